"""Reading a file the engine did not write: only a regular file, and only up to a cap.

A FIFO, a terminal, a device (`/dev/zero`, `/dev/stdin`) or a directory would hang the
engine or exhaust its memory; each is refused before a byte is read.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

MiB = 1024 * 1024


class FileRefused(ValueError):
    """The file is not a regular file, or is larger than its cap; `reason` says which
    without the file's name."""

    def __init__(self, what: str, path: str, reason: str) -> None:
        super().__init__(f"{what} {path} {reason}")
        self.reason = reason


def read_regular(path: str | os.PathLike[str] | Path, cap: int, *,
                 what: str = "file") -> bytes:
    """The bytes of the regular file at `path`, at most `cap` of them.

    Opened without blocking (a FIFO does not wait for a writer) and checked with
    `fstat` on the open descriptor, so a swap between the check and the read is
    harmless. Raises FileRefused for anything else, OSError when it cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(
        os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(what, os.fspath(path), "is not a regular file")
        if info.st_size > cap:
            raise FileRefused(what, os.fspath(path), f"is larger than {_size(cap)}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, cap + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > cap:
                raise FileRefused(what, os.fspath(path), f"is larger than {_size(cap)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _size(cap: int) -> str:
    return f"{cap // MiB} MiB" if cap % MiB == 0 else f"{cap} bytes"
