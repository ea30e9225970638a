"""Helpers for the git tests: run a pipeline expression through the real CLI, and make
shallow clones of test repositories."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.engine_run import Result, run_cli
from tests.support.gitrepo import GitRepo, make_repo, run_git


def capture(tmp_path: Path, src: Path, expression: str,
            env: dict[str, str] | None = None, *options: str | Path) -> tuple[Result, Any]:
    """Evaluate `expression` in a pipeline run on `src`; return the run and the value.

    The value travels as JSON in a job's env; it is None when the run failed. `options`
    are more command-line arguments (`--policy FILE`).
    """
    pipeline = tmp_path / "capture.star"
    pipeline.write_text(
        f'trigger_job("out", env = {{"R": json.encode({expression})}})\n', encoding="utf-8"
    )
    triggers = tmp_path / "triggers.json"
    triggers.unlink(missing_ok=True)
    result = run_cli("--src", src, "--pipeline", pipeline, "--triggers-file", triggers,
                        *options, env=env)
    if result.code != 0:
        return result, None
    doc = json.loads(triggers.read_text(encoding="utf-8"))
    return result, json.loads(doc["jobs"][0]["env"]["R"])


def shallow_clone(source: GitRepo, dest: Path, depth: int = 1, branch: str | None = None,
                  all_branches: bool = False) -> GitRepo:
    """`git clone --depth N file://...` of `source` (its current branch unless `branch`)."""
    options = ["--no-single-branch"] if all_branches else []
    if branch:
        options += ["--branch", branch]
    run_git(dest.parent, "clone", "--quiet", f"--depth={depth}", *options,
            f"file://{source.path.resolve()}", str(dest))
    return GitRepo(dest)


def history(tmp_path: Path) -> GitRepo:
    """main: three commits; feature: two more, branched from main's second commit."""
    repo = make_repo(tmp_path / "origin-src", [{"README": "r\n", "src/app.py": "v1\n"},
                                               {"src/app.py": "v2\n"}])
    repo.branch("feature")
    repo.commit({"src/app.py": "v3\n"})
    repo.checkout("feature")
    repo.commit({"src/feature.py": "f\n"})
    repo.commit({"docs/guide.md": "g\n"})
    return repo
