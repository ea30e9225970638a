"""Run a bundled example pipeline against a small, freshly built git repository.

``python -m examples.demo`` (or ``just demo``) builds a repository in a temporary
directory with the git CLI: ``main`` holds the project and its ``pipeline.star`` and is
pushed to a local bare ``origin``; a feature branch then changes Python files under
``src/``. The real engine is run twice as a subprocess, first ``plan`` and then
``ingest`` into a temporary triggers file, and everything is removed afterwards.

Identity, dates and git configuration are fixed, so every run builds the same commits
and writes the same triggers file. Nothing touches the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent / "pipelines" / "complex_parallel_pipeline.star"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
FEATURE_BRANCH = "feature/discounts"
JOB_ID = "demo-ingest-1"
BASE_EPOCH = 1_700_000_000
RULE = "-" * 72

# One dict per commit: path -> content. The first lands on main, the second on the branch.
FIRST_COMMIT: dict[str, str] = {
    "README.md": "# shop\n\nA tiny shop used by the pipeline demo.\n",
    "src/shop/__init__.py": '"""The shop."""\n',
    "src/shop/cart.py": (
        "def total(prices: list[float]) -> float:\n"
        "    return sum(prices)\n"
    ),
    "web/checkout.js": "export const currency = 'EUR';\n",
}
SECOND_COMMIT: dict[str, str] = {
    "src/shop/cart.py": (
        "from shop.discounts import apply\n\n\n"
        "def total(prices: list[float], code: str = '') -> float:\n"
        "    return apply(sum(prices), code)\n"
    ),
    "src/shop/discounts.py": (
        "def apply(amount: float, code: str) -> float:\n"
        "    return amount * 0.9 if code == 'TEN' else amount\n"
    ),
}


class DemoError(Exception):
    """A step of the demo failed; the message says which."""


def _clean_env() -> dict[str, str]:
    """This environment without REACTORCIDE_*, RC_WF_* or GIT_* settings."""
    prefixes = ("REACTORCIDE_", "RC_WF_", "GIT_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def git(cwd: Path, *args: str, commit_number: int = 0) -> str:
    """Run git with a fixed identity, date and configuration; return its stdout."""
    env = _clean_env()
    date = f"@{BASE_EPOCH + 60 * commit_number} +0000"
    env.update(
        {
            "GIT_AUTHOR_NAME": "Demo Author",
            "GIT_AUTHOR_EMAIL": "demo@example.com",
            "GIT_COMMITTER_NAME": "Demo Author",
            "GIT_COMMITTER_EMAIL": "demo@example.com",
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CEILING_DIRECTORIES": str(cwd.parent),
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
    )
    config = ("-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false")
    try:
        proc = subprocess.run(
            ["git", *config, *args], cwd=cwd, env=env, capture_output=True, text=True,
            check=False, stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise DemoError("git is not installed") from None
    if proc.returncode != 0:
        raise DemoError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _write_files(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def build_repository(workdir: Path) -> Path:
    """Create the demo repository (with its bare origin) under ``workdir``; return its path."""
    repo = workdir / "src"
    origin = workdir / "origin.git"
    repo.mkdir()
    origin.mkdir()
    git(origin, "init", "--quiet", "--bare")
    git(repo, "init", "--quiet", "--initial-branch=main")

    _write_files(repo, FIRST_COMMIT)
    shutil.copyfile(EXAMPLE, repo / "pipeline.star")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Initial shop", commit_number=1)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "--quiet", "origin", "main")
    git(repo, "fetch", "--quiet", "origin")

    git(repo, "checkout", "--quiet", "-b", FEATURE_BRANCH)
    _write_files(repo, SECOND_COMMIT)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "Add discount codes", commit_number=2)
    return repo


def run_engine(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m engine ARGS`` from the project root, as an ingest job would."""
    env = _clean_env()
    env["REACTORCIDE_JOB_ID"] = JOB_ID
    return subprocess.run(
        [sys.executable, "-m", "engine", *map(str, args)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False,
        stdin=subprocess.DEVNULL, timeout=60,
    )


def _show(title: str, proc: subprocess.CompletedProcess[str], log: bool = True) -> None:
    print(f"$ {title}")
    if proc.stderr.strip() and (log or proc.returncode != 0):
        print("pipeline output (stderr):")
        for line in proc.stderr.rstrip().splitlines():
            print(f"  | {line}")
    print(proc.stdout.rstrip())
    print()
    if proc.returncode != 0:
        raise DemoError(f"the engine exited with status {proc.returncode}")


def demo(workdir: Path) -> None:
    """Build the repository, then plan and ingest the bundled example."""
    repo = build_repository(workdir)
    pipeline = repo / "pipeline.star"
    triggers = workdir / "triggers.json"
    changed = git(repo, "diff", "--name-only", "origin/main", "HEAD").splitlines()

    print(RULE)
    print(f"example   : examples/pipelines/{EXAMPLE.name} (copied to pipeline.star)")
    print(f"repository: {repo}")
    print(f"branch    : {FEATURE_BRANCH} at {git(repo, 'rev-parse', '--short', 'HEAD')}")
    print(f"changed since origin/main: {', '.join(changed)}")
    print(RULE)
    print()

    _show("python -m engine plan", run_engine("plan", "--src", repo, "--pipeline", pipeline))
    _show(
        "python -m engine ingest",
        run_engine(
            "ingest", "--src", repo, "--pipeline", pipeline, "--triggers-file", triggers
        ),
        log=False,
    )
    print(f"triggers file: {triggers}")
    print(triggers.read_text(encoding="utf-8").rstrip())


def main() -> int:
    """Entry point of ``python -m examples.demo``; returns the exit status."""
    try:
        with tempfile.TemporaryDirectory(prefix="engine-demo-") as tmp:
            demo(Path(tmp))
    except DemoError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    print()
    print("(temporary repository and triggers file removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
