"""The parent side of the sandbox: fork the child, answer its questions, enforce limits.

Pipeline code never runs in this process. The child is forked (cheap: no second
interpreter start), drops its environment and applies OS limits before it parses
anything; this process keeps the token, the repository and the network, answers the
child's capability calls itself, and kills the child at the wall-clock deadline plus a
short grace if a single long operation never yields.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import time

from engine.capabilities.base import CapabilityError, Protocol
from engine.common.record import Record
from engine.core.diagnostics import Diagnostic, Location, PipelineFailed
from engine.core.limits import Limits
from engine.core.usage import RunUsage, Usage
from engine.sandbox import protocol
from engine.sandbox.child import child_main, looks_like_memory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.common.secret import Secret


class Services(Protocol):
    """What the parent answers the child with."""

    def answer(self, capability: str, method: str, args: list[Any]) -> Any:
        """Answer one capability call or raise CapabilityError."""
        ...

    def show(self, text: str) -> None:
        """Show one line of pipeline output."""
        ...


class ChildReport(Record):
    """The child's final message plus what it used."""

    __slots__ = ("message", "usage")

    def __init__(self, message: dict[str, Any], usage: Usage) -> None:
        self.message = message
        self.usage = usage


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Sandbox:
    """A forked child that warms up (imports the interpreter) while the parent works.

    Forking early lets the child's start-up overlap the parent's own; the child runs no
    pipeline code and applies its limits only once `run` hands it a request.
    """

    def __init__(self, secret: Secret | None = None) -> None:
        """`secret` (the API token) is erased from the child's memory before pipeline
        code runs."""
        child_read, self._write_fd = os.pipe()
        self._read_fd, child_write = os.pipe()
        # The child's stderr: only a crashing interpreter writes there (pipeline output
        # travels as messages). A pipe, not a file: the child may not write files.
        self._stderr = _StderrTail(*os.pipe())
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                os.close(self._read_fd)
                os.close(self._write_fd)
                os.close(self._stderr.read_fd)
                child_main(child_write, child_read, self._stderr.write_fd, secret)
            finally:
                os._exit(70)
        self.pid = pid
        os.close(child_read)
        os.close(child_write)
        self._stderr.close_write_end()
        self._done = False

    def run(
        self, request: dict[str, Any], limits: Limits, services: Services, where: str,
        on_jobs: Callable[[dict[str, Any]], None] | None = None,
    ) -> ChildReport:
        """Evaluate one request; raise PipelineFailed on a limit or a crash.

        With `on_jobs`, the child is asked to send its jobs in slices while it runs, and
        each slice (a `jobs` message) is handed to `on_jobs` as it arrives; the report's
        result then holds only the jobs not sent before. Without it, a child that sends
        a slice has broken the protocol."""
        if self._done:
            raise RuntimeError("a sandbox runs one request only")
        self._done = True
        start = time.monotonic()
        deadline = start + limits.wall_seconds
        request = {**request, "limits": limits.to_json(), "deadline": deadline,
                   "stream_jobs": on_jobs is not None}
        try:
            try:
                protocol.send(self._write_fd, request)
            except OSError:
                final, stopped = None, None  # the child died before it could listen
            else:
                final, stopped = _serve(
                    self.pid, self._read_fd, self._write_fd, self._stderr, services,
                    deadline, limits, on_jobs,
                )
        except BaseException:
            _kill(self.pid)  # interrupted, or a bug on this side: never leave it running
            os.waitpid(self.pid, 0)
            self._stderr.close()
            raise
        finally:
            os.close(self._read_fd)
            os.close(self._write_fd)
        _, status, rusage = os.wait4(self.pid, 0)
        usage = Usage(
            wall_seconds=time.monotonic() - start,
            cpu_seconds=rusage.ru_utime + rusage.ru_stime,
            peak_memory_mb=rusage.ru_maxrss / 1024.0,
        )
        failure = _ending(where, final, stopped, status, self._stderr.drain(), limits, usage)
        if failure is not None:
            failure.usage = RunUsage(usage, limits)
            raise failure
        assert final is not None
        return ChildReport(final, usage)

    def discard(self) -> None:
        """Stop a child that will not be used."""
        if self._done:
            return
        self._done = True
        _kill(self.pid)
        os.close(self._read_fd)
        os.close(self._write_fd)
        os.waitpid(self.pid, 0)
        self._stderr.close()


def run_child(
    request: dict[str, Any], limits: Limits, services: Services, where: str
) -> ChildReport:
    """Run one request in a fresh sandboxed child; raise PipelineFailed on any limit."""
    return Sandbox().run(request, limits, services, where)


class _StderrTail:
    """The first bytes the child writes to stderr; the rest is read and dropped."""

    LIMIT = 64 * 1024

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.text = bytearray()
        self._open = True

    def close_write_end(self) -> None:
        os.close(self.write_fd)

    def take(self) -> bool:
        """Read what is available; False at end of stream."""
        chunk = os.read(self.read_fd, 1 << 16)
        if not chunk:
            return False
        if len(self.text) < self.LIMIT:
            self.text += chunk[: self.LIMIT - len(self.text)]
        return True

    def drain(self) -> str:
        """Everything written until the child exited, as text; closes the pipe."""
        if self._open:
            while select.select([self.read_fd], [], [], 0)[0] and self.take():
                pass
            self.close()
        return self.text.decode("utf-8", "replace")

    def close(self) -> None:
        if self._open:
            os.close(self.read_fd)
            self._open = False


# Why the parent stopped a child that did not end by itself in time.
_OUT_OF_TIME = "out of time"


def _serve(
    pid: int,
    read_fd: int,
    write_fd: int,
    stderr: _StderrTail,
    services: Services,
    deadline: float,
    limits: Limits,
    on_jobs: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict[str, Any] | None, str | None]:
    """Answer the child until it ends; its last message, and why this side stopped it
    (None: it ended by itself; `_OUT_OF_TIME`; or how it broke the protocol)."""
    reader = protocol.FrameReader()
    final: dict[str, Any] | None = None
    hard_deadline = deadline + limits.kill_grace_seconds
    watching = [read_fd, stderr.read_fd]
    while True:
        remaining = hard_deadline - time.monotonic()
        if remaining <= 0:
            _kill(pid)
            return None, _OUT_OF_TIME
        ready, _, _ = select.select(watching, [], [], remaining)
        if stderr.read_fd in ready and not stderr.take():
            watching.remove(stderr.read_fd)
        if read_fd not in ready:
            continue
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            return final, None
        try:
            messages = reader.feed(chunk)
        except protocol.ProtocolError:
            _kill(pid)
            return None, "it sent a malformed message"
        for message in messages:
            kind = message.get("type")
            if kind == "print":
                services.show(str(message.get("text", "")))
            elif kind == "call":
                protocol.send(write_fd, _answer(services, message))
            elif kind == "jobs":
                if on_jobs is None:
                    _kill(pid)
                    return None, "it sent jobs it was not asked to send"
                on_jobs(message)
            else:
                final = message


def _answer(services: Services, message: dict[str, Any]) -> dict[str, Any]:
    from engine.sandbox.proxies import REMOTE_METHODS

    capability = str(message.get("capability"))
    method = str(message.get("method"))
    args = message.get("args")
    if method not in REMOTE_METHODS.get(capability, frozenset()) or not isinstance(args, list):
        return {"error": f"unknown capability call {capability}.{method}"}
    try:
        return {"value": services.answer(capability, method, args)}
    except CapabilityError as err:
        return {"error": str(err)}


def _ending(where: str, final: dict[str, Any] | None, stopped: str | None, status: int,
            crash_text: str, limits: Limits, usage: Usage) -> PipelineFailed | None:
    """How a child that has ended failed the run, or None when its last message stands."""
    if stopped == _OUT_OF_TIME:
        return _limit(where, f"wall-clock limit of {_seconds(limits.wall_seconds)} exceeded "
                      "(a single operation ran past the deadline and was stopped)")
    if stopped is not None:
        return _limit(where, f"the sandbox failed: {stopped}")
    if final is None or final.get("type") in ("limit", "crash"):
        return _explain_death(where, status, final, crash_text, limits, usage.peak_memory_mb)
    if final.get("type") == "result" and usage.wall_seconds > limits.wall_seconds:
        # A single operation that ended within the kill's grace period: the limit holds
        # all the same, or a run could end late and still write.
        return _limit(where, f"wall-clock limit of {_seconds(limits.wall_seconds)} exceeded "
                      "(a single operation ran past the deadline)")
    return None


def _kill(pid: int) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _limit(where: str, message: str) -> PipelineFailed:
    return PipelineFailed([Diagnostic(Location(where), message)])


def _explain_death(
    where: str, status: int, final: dict[str, Any] | None, crash_text: str, limits: Limits,
    peak_memory_mb: float = 0.0,
) -> PipelineFailed:
    import signal

    memory = f"memory limit of {limits.memory_mb} MiB exceeded"
    if final is not None and final.get("type") == "limit":
        return _limit(where, memory)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return _limit(where, f"CPU-time limit of {_seconds(limits.cpu_seconds)} exceeded")
        if looks_like_memory(crash_text) or sig == signal.SIGKILL:
            return _limit(where, memory)
        name = signal.Signals(sig).name if sig in signal.Signals.__members__.values() else sig
        if sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS) and (
                peak_memory_mb >= limits.memory_mb / 2):
            # The interpreter does not always survive a refused allocation (a table
            # that cannot grow): a crash with this much memory in use is the limit.
            return _limit(where, f"{memory} (the sandbox crashed with {name} at a peak "
                                 f"of {peak_memory_mb:.0f} MiB)")
        return _limit(where, f"the sandbox crashed (signal {name})")
    if looks_like_memory(crash_text) or (
        final is not None and looks_like_memory(str(final.get("message", "")))
    ):
        return _limit(where, memory)
    detail = ""
    if final is not None and final.get("type") == "crash":
        detail = f": {str(final.get('message', ''))[:500]}"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
    return _limit(where, f"the sandbox failed (exit status {code}){detail}")
