"""What a script's call into the workflow API carries: where it was made, and its
arguments as `pipeline.star` would pass them."""

from __future__ import annotations

import itertools
import linecache
import sys

from engine.core.diagnostics import Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

# Frames of these packages are never "the script line": the caller is looked up past them.
_INTERNAL_MODULES = frozenset({"workflow", "contextlib"})


def caller_location() -> Location:
    """Where the script called into this package: file, line and column of the call.

    The column rests on two CPython details (3.11 and later), checked by
    tests/workflow/test_call_site.py: `co_positions()` yields one entry per 2-byte code
    unit (cache units included), and `f_lasti` is the byte offset of the instruction
    running, so the call's entry is number `f_lasti // 2`. Should either change, the
    entry found is None or another instruction's: the line then comes from `f_lineno`
    with column 0, or the column is off; no error is raised.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (
        str(frame.f_globals.get("__name__", "")).split(".", 1)[0] in _INTERNAL_MODULES
    ):
        frame = frame.f_back
    if frame is None:
        return Location("<unknown>")
    file = frame.f_code.co_filename
    line, col = frame.f_lineno, 0
    position = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None),
                    None)
    if position is not None and position[0] is not None:
        line = position[0]
        if position[2] is not None:
            # co_positions counts UTF-8 bytes; a Location counts characters.
            text = linecache.getline(file, line).encode("utf-8")
            col = len(text[: position[2]].decode("utf-8", "replace")) + 1
    return Location(file, line, col)


def plain(value: Any) -> Any:
    """Arguments as `pipeline.star` passes them: tuples become lists, and containers are
    copied, so that changing them after the call does not change the job."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value
