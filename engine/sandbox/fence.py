"""Operating-system fences around the sandboxed child (Linux; elsewhere they are skipped).

The interpreter already offers pipeline code no files, network or environment. These
fences hold even if code escaped the interpreter: an empty network namespace, no new
privileges, no core dumps or ptrace by other users, the inherited environment block
overwritten, no file writes, few descriptors. Each reports whether it took effect, so
the run can say which protections were active.
"""

from __future__ import annotations

import contextlib
import os
import resource

from engine.common.secret import initial_environment_span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.common.secret import Secret

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_PR_SET_DUMPABLE = 4
_PR_SET_NO_NEW_PRIVS = 38
MAX_DESCRIPTORS = 16


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def isolate_process() -> list[str]:
    """Fences that need no request: applied while the child warms up."""
    active: list[str] = []
    if scrub_initial_environment():
        active.append("inherited environment block overwritten")
    try:
        libc = _libc()
    except OSError:
        return active
    if libc.unshare(_CLONE_NEWNET) == 0 or libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        active.append("empty network namespace")
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0:
        active.append("no new privileges")
    if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0:
        active.append("not dumpable (no ptrace or /proc access by other users)")
    return active


def scrub_initial_environment() -> bool:
    """Overwrite the environment block the process started with.

    `os.environ.clear()` removes the variables, but /proc/PID/environ keeps showing the
    original block, which the engine's parent inherited with the API token in it.
    """
    span = initial_environment_span()
    if span is None:
        return False
    start, end = span
    try:
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            os.pwrite(fd, bytes(end - start), start)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return False
    return True


def limit_resources(memory_bytes: int, cpu_seconds: int) -> list[str]:
    """Memory, CPU, core-dump and file-size limits (file writes fail instead of killing).

    The memory and CPU limits are required; the others are applied where the platform
    supports them.
    """
    import signal

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    active = ["memory limit", "CPU-time limit"]
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        active.append("no core dumps")
    with contextlib.suppress(OSError, ValueError):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        active.append("no file writes (RLIMIT_FSIZE 0)")
    return active


def limit_descriptors(keep: set[int]) -> list[str]:
    """Close every inherited descriptor but `keep`, then cap how many may be open."""
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 256))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    cap = max(MAX_DESCRIPTORS, max(keep) + 1)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (cap, cap))
    except (OSError, ValueError):
        return []
    return [f"at most {cap} file descriptors"]


def erase_from_memory(secret: Secret) -> bool:
    """Overwrite every copy of the secret left in this process's writable memory.

    The child is forked from the engine, so its heap holds what the engine's held: the
    token as read from the environment, and freed buffers that once held it. Each
    private writable mapping is read through /proc/self/mem and every match zeroed at
    once. A secret shorter than 12 bytes is skipped: zeroing every occurrence of a
    short word could corrupt the interpreter's own strings.

    A fragile spot: this writes into live Python objects behind the interpreter's
    back. The `str` that holds the token (in the `Secret`, in
    any text built from it) is immutable to Python, yet its characters are zeroed in
    place: its length and any cached hash stay, its text becomes NUL bytes. That is
    sound only while
    - CPython keeps an ASCII `str`'s characters inline, one byte each, so that they
      are exactly the UTF-8 bytes searched for (a token the transport accepts is
      printable ASCII; a `str` with other characters stores them otherwise, and its
      copies are missed);
    - nothing in the child reads the token afterwards, or looks it up in a dict or set
      (its cached hash no longer matches its text);
    - the token is none of the interpreter's own strings (the 12-byte minimum keeps
      identifiers and constants out of reach).
    Were CPython to store strings another way, copies would be missed silently while
    the run still reports "token erased from memory"; were it to share the token's
    text with its own objects, zeroing them could corrupt the interpreter.
    `tests/sandbox/test_fences.py` looks for the token in a running child's memory
    where the system lets it read that memory.
    """
    # Searched for as two halves, so that no search object is itself a copy of the
    # secret (it would be found and zeroed half-way through the search).
    first, second = secret.memory_halves()
    if len(first) + len(second) < 12:
        return True
    halves = [(first, second)]
    try:
        with open("/proc/self/maps", "rb") as handle:
            regions = [line.split() for line in handle]
        fd = os.open("/proc/self/mem", os.O_RDWR)
    except OSError:
        return False
    try:
        for fields in regions:
            if len(fields) < 2 or fields[1][:2] != b"rw" or fields[1][3:4] != b"p":
                continue
            start, end = (int(x, 16) for x in fields[0].split(b"-"))
            _erase_region(fd, start, end, halves)
    except (OSError, ValueError):
        return False
    finally:
        os.close(fd)
    return True


def _erase_region(fd: int, start: int, end: int, halves: list[tuple[bytes, bytes]]) -> None:
    chunk = 1 << 22
    overlap = max(len(a) + len(b) for a, b in halves) - 1
    offset = start
    while offset < end:
        try:
            data = os.pread(fd, min(chunk + overlap, end - offset), offset)
        except OSError:  # a guard page or a mapping that cannot be read
            return
        for first, second in halves:
            found = data.find(first)
            while found >= 0:
                tail = found + len(first)
                if data.startswith(second, tail):
                    os.pwrite(fd, bytes(tail + len(second) - found), offset + found)
                found = data.find(first, found + 1)
        offset += chunk
