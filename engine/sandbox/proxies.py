"""Capabilities as seen from inside the sandbox: every question goes to the parent.

The child holds no token, opens no repository and no socket; it asks the parent, which
answers with its own backends and its own checks.
"""

from __future__ import annotations

from engine.capabilities.answers import Answers
from engine.capabilities.base import CapabilityError
from engine.core.builtin_table import remote_methods
from engine.sandbox import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# What the child may ask for, by capability: the parent refuses anything else.
REMOTE_METHODS = remote_methods()


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
    """`GitSource` answered by the parent, each distinct question once.

    The parent caches too; caching here as well keeps a large answer (10,000 paths)
    from crossing the pipe again for every builtin that needs it.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._answers: Answers[tuple[str | None, ...], Any] = Answers()

    def _ask(self, method: str, *args: str | None) -> Any:
        return self._answers.ask((method, *args),
                                 lambda: self._channel.call("git", method, *args))

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        return list(self._ask("changed_files", from_ref, to_ref, base_dir))

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        return list(self._ask("changes", from_ref, to_ref, base_dir))

    def info(self, base_dir: str | None) -> dict[str, Any]:
        return dict(self._ask("info", base_dir))


class RemoteJobState:
    """`JobState` answered by the parent.

    The scope is sent only when the pipeline names one, so a question without it is
    the same question (and the same cached answer) as before scopes existed.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def is_job_running(self, job_name: str, scope: str | None = None) -> bool:
        args = (job_name,) if scope is None else (job_name, scope)
        return bool(self._channel.call("job_state", "is_job_running", *args))

    def get_job_result(self, job_name: str, scope: str | None = None) -> dict[str, Any] | None:
        args = (job_name,) if scope is None else (job_name, scope)
        value = self._channel.call("job_state", "get_job_result", *args)
        return dict(value) if value is not None else None


class RemoteSources:
    """`SourceReader` answered by the parent, which confines and reads the files."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        return dict(self._channel.call("source", "read", module, loading_file))


class RemoteOutput:
    """Pipeline text, streamed to the parent as it is produced, up to the print budget.

    The parent shows at most `limit` bytes; past them nothing more is sent (a pipeline
    printing in a loop must not flood the pipe, nor send one message too large for it),
    but one piece that overflows the budget is, so that the parent shows what fits and
    its notice.
    """

    def __init__(self, channel: Channel, limit: int | None = None) -> None:
        self._channel = channel
        self._left = limit
        self._spent = False

    def write(self, text: str) -> None:
        if self._spent:
            return
        if self._left is not None:
            size = len(text.encode("utf-8")) + 1
            if size > self._left:
                self._spent = True
                text = text[: self._left + 1]  # at least one byte past the budget
            else:
                self._left -= size
        self._channel.notify({"type": "print", "text": text})
