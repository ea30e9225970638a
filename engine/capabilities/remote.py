"""Capabilities as seen from inside the sandbox: every question goes to the parent.

The child holds no token, opens no repository and no socket; it asks the parent, which
answers with its own backends and its own checks.
"""

from __future__ import annotations

from engine.capabilities.base import CapabilityError
from engine.sandbox import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What the child may ask for, by capability: the parent refuses anything else.
REMOTE_METHODS: dict[str, frozenset[str]] = {
    "git": frozenset({"changed_files", "info"}),
    "job_state": frozenset({"is_job_running", "get_job_result"}),
}


class Channel:
    """The child's end of the request/answer pipes."""

    def __init__(self, to_parent: int, from_parent: int) -> None:
        self.to_parent = to_parent
        self.from_parent = from_parent

    def call(self, capability: str, method: str, *args: Any) -> Any:
        """Ask the parent; return its answer or raise CapabilityError."""
        protocol.send(
            self.to_parent,
            {"type": "call", "capability": capability, "method": method, "args": list(args)},
        )
        answer = protocol.receive(self.from_parent)
        if answer is None:
            raise CapabilityError("the engine stopped answering")
        if "error" in answer:
            raise CapabilityError(str(answer["error"]))
        return answer.get("value")

    def notify(self, message: dict[str, Any]) -> None:
        """Send a message that needs no answer."""
        protocol.send(self.to_parent, message)


class RemoteGit:
    """`GitSource` answered by the parent."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def changed_files(self, from_ref: str, to_ref: str, base_dir: str | None) -> list[str]:
        result = self._channel.call("git", "changed_files", from_ref, to_ref, base_dir)
        return list(result)

    def info(self, base_dir: str | None) -> dict[str, Any]:
        return dict(self._channel.call("git", "info", base_dir))


class RemoteJobState:
    """`JobState` answered by the parent."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def is_job_running(self, job_name: str) -> bool:
        return bool(self._channel.call("job_state", "is_job_running", job_name))

    def get_job_result(self, job_name: str) -> dict[str, Any] | None:
        value = self._channel.call("job_state", "get_job_result", job_name)
        return dict(value) if value is not None else None


class RemoteOutput:
    """Pipeline text, streamed to the parent as it is produced."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def write(self, text: str) -> None:
        self._channel.notify({"type": "print", "text": text})
