"""SIGTERM and SIGINT: stop the run cleanly.

The handler raises `Stopped` in the main thread; unwinding kills the sandbox child
and any git process, releases the triggers file's lock and removes a temporary file,
so the triggers file stays as it was. The command prints one line and exits 128 plus
the signal's number (143 for SIGTERM, 130 for SIGINT).
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, TextIO

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_previous: dict[int, Any] = {}


class Stopped(BaseException):
    """The run was stopped by a signal (not an error of the engine or the pipeline)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _handler(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Stopped(signum)


def install() -> None:
    """Handle SIGTERM and SIGINT in this (main) thread until `uninstall`."""
    for signum in _SIGNALS:
        _previous[signum] = signal.signal(signum, _handler)


def uninstall() -> None:
    """Restore the handlers `install` replaced."""
    for signum, previous in list(_previous.items()):
        signal.signal(signum, previous)
        del _previous[signum]


def report(stop: BaseException, err: TextIO) -> int:
    """Kill what still runs, say so in one line, and return the exit code."""
    from engine.capabilities.git.runner import kill_all

    kill_all()
    signum = stop.signum if isinstance(stop, Stopped) else signal.SIGINT
    name = signal.Signals(signum).name
    err.write(f"stopped by {name}; the triggers file was left as it was\n")
    err.flush()
    return 128 + signum
