"""Interfaces of the capabilities builtins depend on."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:  # interfaces are for type checking only: at run time they are plain classes
    Protocol = object

__all__ = ["CapabilityError", "GitSource", "JobState", "Protocol"]


class CapabilityError(Exception):
    """A capability could not answer; the message is shown to the pipeline author.

    Messages must never contain secrets (the API token).
    """


class GitSource(Protocol):
    """Read-only questions about the source checkout."""

    def changed_files(self, from_ref: str, to_ref: str, base_dir: str | None) -> list[str]:
        """Paths changed between two refs, relative to the repository root."""
        ...

    def info(self, base_dir: str | None) -> dict[str, Any]:
        """`branch`, `commit`, `short_commit`, `tag`, `remote_url` (None when unknown)."""
        ...


class JobState(Protocol):
    """Read-only questions about jobs known to the coordinator."""

    def is_job_running(self, job_name: str) -> bool:
        """True when a job of that name is submitted, queued, running or cancelling."""
        ...

    def get_job_result(self, job_name: str) -> dict[str, Any] | None:
        """The most recent finished job of that name, or None."""
        ...
