"""The git questions of a trusted script, answered by the engine's `LiveGit`.

Unlike `pipeline.star`, a script may point `base_dir` at any directory: a relative path
is relative to the working directory, as everywhere in Python. Each directory gets one
`LiveGit` rooted there, set up as the engine sets up its own: the policy's choice for
missing history, and (for the source directory) the branch the environment names.
"""

from __future__ import annotations

import os
from pathlib import Path

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.git.live import LiveGit


class Repositories:
    """A `GitSource` whose `base_dir` is any directory; None means the source directory."""

    def __init__(self, src_dir: str, *, env_branch: str | None = None,
                 on_missing_history: str = "error",
                 warn: Callable[[str], None] | None = None) -> None:
        self.src_dir = src_dir
        self.env_branch = env_branch
        self.on_missing_history = on_missing_history
        self.warn = warn
        self._gits: dict[Path, LiveGit] = {}
        self._warned: dict[Path, int] = {}

    def _for(self, base_dir: str | None) -> LiveGit:
        from engine.capabilities.git.live import LiveGit

        path = Path(self.src_dir if base_dir is None else base_dir).resolve()
        if not path.is_dir():
            if base_dir is None:
                raise CapabilityError(
                    f"the source directory {self.src_dir!r} is not a directory (set "
                    "REACTORCIDE_CODE_DIR, or pass src_dir or base_dir)"
                )
            raise CapabilityError(f"base_dir {base_dir!r} is not a directory")
        git = self._gits.get(path)
        if git is None:
            is_source = path == Path(self.src_dir).resolve()
            git = LiveGit(path, on_missing_history=self.on_missing_history,
                          env_branch=self.env_branch if is_source else None)
            self._gits[path] = git
        return git

    def _report(self, git: LiveGit) -> None:
        """Pass on the warnings a question added (history missing, all files counted)."""
        path = Path(git.src_dir)
        for warning in git.warnings[self._warned.get(path, 0):]:
            if self.warn is not None:
                self.warn(warning)
        self._warned[path] = len(git.warnings)

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        """Paths changed between two refs, relative to the repository root."""
        git = self._for(base_dir)
        try:
            return git.changed_files(from_ref, to_ref, None)
        finally:
            self._report(git)

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        """One `{"path", "status", "old_path"}` per change."""
        git = self._for(base_dir)
        try:
            return git.changes(from_ref, to_ref, None)
        finally:
            self._report(git)

    def info(self, base_dir: str | None) -> dict[str, Any]:
        """`branch`, `commit`, `short_commit`, `tag`, `remote_url` (None when unknown)."""
        return self._for(base_dir).info(None)


def base_dir_arg(base_dir: str | os.PathLike[str] | None) -> str | None:
    """A `base_dir` argument as the git builtins take it (a string or None)."""
    return None if base_dir is None else os.fspath(base_dir)
