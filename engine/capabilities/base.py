"""Interfaces of the capabilities builtins depend on."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:  # interfaces are for type checking only: at run time they are plain classes
    Protocol = object

__all__ = ["CapabilityError", "GitSource", "JobState", "Protocol", "SourceReader"]


class CapabilityError(Exception):
    """A capability could not answer; the message is shown to the pipeline author.

    Messages must never contain secrets (the API token).
    """


class GitSource(Protocol):
    """Read-only questions about the source checkout."""

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        """Paths changed between two refs, relative to the repository root, in git's order.

        `to_ref` None means HEAD, or that `from_ref` is a range (`A...B`, `A..B`). A rename
        lists the old and the new path.
        """
        ...

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        """Like `changed_files`, one `{"path", "status", "old_path"}` per change.

        `status` is `added`, `modified`, `deleted`, `renamed`, `copied` or `type_changed`;
        `old_path` is set for renames and copies only.
        """
        ...

    def info(self, base_dir: str | None) -> dict[str, Any]:
        """`branch`, `commit`, `short_commit`, `tag`, `remote_url` (None when unknown)."""
        ...


class JobState(Protocol):
    """Read-only questions about jobs known to the coordinator.

    A backend that knows scopes also takes an optional second argument, ``scope``:
    ``"workflow"``, ``"project"`` or ``"all"`` (see docs/coordinator.md); it is passed
    only when the pipeline names one, so backends without scopes keep working.
    """

    def is_job_running(self, job_name: str) -> bool:
        """True when a job of that name is submitted, queued, running or cancelling."""
        ...

    def get_job_result(self, job_name: str) -> dict[str, Any] | None:
        """The most recent finished job of that name, or None."""
        ...


class SourceReader(Protocol):
    """Pipeline files that `load()` may read, confined to the source directory."""

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        """`{"name": display name, "text": content}` of the file `module` names."""
        ...
