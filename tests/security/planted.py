"""Repositories an attacker controls: real git repositories with planted content."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.gitrepo import GitRepo, make_repo

SECRET_LINE = "PLANTED-HOST-SECRET-7f3a"
OTHER_FILE = "other-repository-private-file.txt"


def host_secret(tmp_path: Path) -> Path:
    """A file on the host the attacker wants to read."""
    path = tmp_path / "host" / "secret.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{SECRET_LINE}\nsecond line\n", encoding="utf-8")
    return path


def plant_bare_shape(repo: GitRepo, name: str, *, head: str = "ref: refs/heads/main\n",
                     config: str = "[core]\n\trepositoryformatversion = 0\n\tbare = true\n",
                     links: dict[str, Path] | None = None) -> str:
    """Commit a directory shaped like a bare repository; `links` are symlinks in it."""
    base = repo.path / name
    (base / "refs" / "heads").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "heads" / "keep").write_text("x\n", encoding="utf-8")
    (base / "HEAD").write_text(head, encoding="utf-8")
    (base / "config").write_text(config, encoding="utf-8")
    links = links or {}
    if "objects" not in links:
        (base / "objects" / "info").mkdir(parents=True, exist_ok=True)
        (base / "objects" / "info" / "keep").write_text("x\n", encoding="utf-8")
    for relative, target in links.items():
        link = base / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_dir() and not link.is_symlink():
            shutil.rmtree(link)
        os.symlink(target, link)
    return repo.commit({}, message=f"plant {name}")


def source_repo(tmp_path: Path, pipeline: str) -> GitRepo:
    """A checkout with two commits and the given pipeline."""
    return make_repo(tmp_path / "src", [{"README": "r\n"},
                                        {"pipeline.star": pipeline, "app.py": "x\n"}])


def other_repo(tmp_path: Path) -> GitRepo:
    """Another repository on the same host, with a private file and tag."""
    repo = make_repo(tmp_path / "other", [{OTHER_FILE: "private\n"}])
    repo.tag("other-private-tag")
    return repo


def git_shim(directory: Path, dump: Path, *, version: str | None = None) -> Path:
    """A `git` on PATH that records its environment, then ignores GIT_NO_LAZY_FETCH (as git
    before 2.44 does) and runs the real git; `version` makes it claim another version."""
    real = shutil.which("git")
    assert real is not None
    directory.mkdir(parents=True, exist_ok=True)
    claim = (f'if [ "$1" = version ]; then echo "git version {version}"; exit 0; fi\n'
             if version else "")
    script = directory / "git"
    script.write_text(f"#!/bin/sh\n{claim}env >> '{dump}'\necho ---- >> '{dump}'\n"
                      f"unset GIT_NO_LAZY_FETCH\nexec '{real}' \"$@\"\n", encoding="utf-8")
    script.chmod(0o755)
    return directory
