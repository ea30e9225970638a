"""The process `python -m engine` runs in: its standard streams on the way in, its end
on the way out. Only `engine/__main__.py` uses it; `engine.cli.main.main` stays callable
in-process."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NoReturn, TextIO

# Python's own exit status when the output cannot be flushed at exit.
EXIT_UNWRITABLE = 120


class ForgivingStream:
    """A text stream whose writes cannot fail the run: once writing fails (a reader
    that went away, a full disk), it is marked broken and later output is dropped.

    The triggers file is written before the run says so: a log line that cannot be
    written must not turn a written (or submitted) file into "nothing was written".
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        """Write `text`, or drop it once the stream is broken."""
        if not self.broken:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self.broken = True
        return len(text)

    def flush(self) -> None:
        """Flush, marking the stream broken when that fails."""
        if not self.broken:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def isatty(self) -> bool:
        """Whether the stream is a terminal (for colour)."""
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)


def open_standard_streams() -> None:
    """Give the process its three standard streams even when it was started with one
    closed (/dev/null takes the place, so that no pipe or file opened later takes
    descriptor 0, 1 or 2), and make writing to stdout and stderr unable to fail."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdin is None:
        sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives with the run
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        setattr(sys, name, ForgivingStream(stream))


def end_process(code: int) -> NoReturn:
    """End the process with `code` as an interpreter would, less its teardown.

    The exit handlers run and both streams are flushed; output that could not be
    written turns a success into 120, as Python's own exit does. Then the process ends
    without freeing every module and object one by one, which (with the cyclic
    collector paused for the run) took longer than evaluating a small pipeline. The
    engine writes its files and closes them before this point.
    """
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
        if getattr(stream, "broken", False) and code == 0:
            code = EXIT_UNWRITABLE
    os._exit(code)
