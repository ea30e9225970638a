"""Run Python ingest scripts the way an ingest job does: a process of their own, the
installed `workflow` package, a clean environment, and a working directory outside the
project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.engine_run import REPO_ROOT, Result
from tests.support.engine_run import run_script as run_forked

PYTHON_EXAMPLES = REPO_ROOT / "examples" / "python"
STARLARK_EXAMPLES = REPO_ROOT / "examples" / "pipelines"


def run_script(script: Path, *, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 60) -> Result:
    """`python SCRIPT` in `cwd` with a clean environment plus `env`, forked from the
    warm interpreter (tests.support.engine_run.run_script)."""
    return run_forked(script, cwd=cwd, env=env, timeout=timeout)


def load(path: Path) -> dict[str, Any]:
    """A triggers file, parsed."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def job_names(path: Path) -> list[str]:
    """The job names of a triggers file, in order."""
    return [str(job["job_name"]) for job in load(path)["jobs"]]
