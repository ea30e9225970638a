"""Real git repositories for tests, built with the git CLI.

Author, committer, dates and configuration are fixed and inherited ``GIT_*``
variables are dropped, so the same calls always produce the same commit SHAs.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

AUTHOR_NAME = "Test Author"
AUTHOR_EMAIL = "author@example.com"
BASE_EPOCH = 1_700_000_000  # 2023-11-14T22:13:20Z
_CONFIG = (
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.autocrlf=false",
    "-c",
    "advice.detachedHead=false",
)


def git_env(ceiling: Path | None = None) -> dict[str, str]:
    """The process environment without ``GIT_*`` variables, plus fixed identity."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        {
            "GIT_AUTHOR_NAME": AUTHOR_NAME,
            "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
            "GIT_COMMITTER_NAME": AUTHOR_NAME,
            "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
    )
    if ceiling is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(ceiling)
    return env


def run_git(cwd: Path, *args: str, date_epoch: int = BASE_EPOCH) -> str:
    """Run git in ``cwd`` with the fixed configuration; return stdout without trailing newline."""
    env = git_env(cwd.parent)
    date = f"@{date_epoch} +0000"
    env["GIT_AUTHOR_DATE"] = date
    env["GIT_COMMITTER_DATE"] = date
    result = subprocess.run(
        ["git", *_CONFIG, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"git {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout.rstrip("\n")


class GitRepo:
    """A working repository; each commit is dated one minute after the previous one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._commits = 0

    def git(self, *args: str) -> str:
        """Run a git command in the repository and return its output."""
        return run_git(self.path, *args, date_epoch=BASE_EPOCH + 60 * self._commits)

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files, commit everything and return the new SHA."""
        root = self.path.resolve()
        for name, content in files.items():
            target = (self.path / name).resolve()
            if root not in target.parents:
                raise ValueError(f"path escapes the repository: {name!r}")
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8", newline="")
        self._commits += 1
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--no-verify", "-m", message)
        return self.head()

    def branch(self, name: str, at: str | None = None) -> None:
        """Create a branch at ``at`` (default HEAD) without switching to it."""
        self.git("branch", "--", name, *([at] if at else []))

    def checkout(self, name_or_sha: str, detach: bool = False) -> None:
        """Switch to a branch or commit (``detach`` leaves HEAD detached)."""
        self.git("checkout", "--quiet", *(["--detach"] if detach else []), name_or_sha)

    def tag(self, name: str, message: str | None = None, at: str | None = None) -> None:
        """Create a lightweight tag, or an annotated one when ``message`` is given."""
        options = ["-a", "-m", message] if message is not None else []
        self.git("tag", *options, "--", name, *([at] if at else []))

    def head(self) -> str:
        """The full SHA of HEAD."""
        return self.git("rev-parse", "--verify", "HEAD")


_templates: dict[str, Path] = {}
_template_root: Path | None = None


def _remove_templates() -> None:
    if _template_root is not None:
        shutil.rmtree(_template_root, ignore_errors=True)


def make_repo(root: Path, commits: list[dict[str, str | None]], branch: str = "main") -> GitRepo:
    """Create a repository at ``root`` with one commit per dict of files.

    Each set of commits is built once per test process and copied: the commits are the
    same either way (fixed identity and dates). Files already in ``root`` are part of the
    first commit; such a repository is built where it is."""
    global _template_root
    if root.exists() and any(root.iterdir()):
        run_git(root, "init", "--quiet", f"--initial-branch={branch}")
        repo = GitRepo(root)
        for number, files in enumerate(commits, start=1):
            repo.commit(files, message=f"commit {number}")
        return repo
    key = json.dumps([commits, branch])
    template = _templates.get(key)
    if template is None:
        if _template_root is None:
            _template_root = Path(tempfile.mkdtemp(prefix="test-repos-"))
            atexit.register(_remove_templates)
        template = _template_root / str(len(_templates))
        template.mkdir()
        run_git(template, "init", "--quiet", f"--initial-branch={branch}")
        built = GitRepo(template)
        for number, files in enumerate(commits, start=1):
            built.commit(files, message=f"commit {number}")
        _templates[key] = template
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template, root, symlinks=True, dirs_exist_ok=True)
    repo = GitRepo(root)
    repo._commits = len(commits)
    return repo


def add_origin(repo: GitRepo, ref: str = "main", at: str | None = None) -> Path:
    """Give ``repo`` a bare ``origin`` whose ``ref`` is ``at`` (default HEAD), then fetch.

    Afterwards ``origin/<ref>`` resolves and the remote URL is the bare repository's path.
    """
    bare = repo.path.parent / f"{repo.path.name}-origin.git"
    if not bare.exists():
        bare.mkdir(parents=True)
        run_git(bare, "init", "--quiet", "--bare")
    target = at or repo.head()
    remotes = repo.git("remote").split()
    if "origin" in remotes:
        repo.git("remote", "set-url", "origin", str(bare))
    else:
        repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "--quiet", "--force", str(bare), f"{target}:refs/heads/{ref}")
    repo.git("fetch", "--quiet", "origin")
    return bare
