"""`--changed PATH`: the changed files a local run states, in place of git's answer."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.capabilities.base import GitSource


class GivenChanges:
    """A `GitSource` whose every change question is answered with the stated paths
    (each as `modified`); `git_info()` still asks the checkout."""

    def __init__(self, git: GitSource, paths: list[str]) -> None:
        self.git = git
        self.paths = list(dict.fromkeys(paths))
        self.warnings: list[str] = getattr(git, "warnings", [])

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        """The stated paths, whatever the refs."""
        return list(self.paths)

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        """The stated paths, each `modified`."""
        return [{"path": path, "status": "modified", "old_path": None} for path in self.paths]

    def info(self, base_dir: str | None) -> dict[str, Any]:
        """The checkout's facts."""
        return self.git.info(base_dir)
