"""Run the real engine command in a subprocess, as an ingest job would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    """Exit code and both output streams of one engine run."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for "never appears anywhere" checks."""
        return self.stdout + self.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any REACTORCIDE_*, RC_WF_* or GIT_* variable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REACTORCIDE_", "RC_WF_", "GIT_"))
    }
    env.update(extra)
    return env


def run_engine(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`python -m engine ARGS...` with a clean environment plus `env`."""
    return run_python("-m", "engine", *args, env=env, cwd=cwd, timeout=timeout)


def run_python(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`python ARGS...` (this interpreter) with a clean environment plus `env`."""
    proc = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd or REPO_ROOT,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
