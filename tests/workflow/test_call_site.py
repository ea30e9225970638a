"""Where a script's call is: `caller_location` finds the column of the call itself from
the interpreter's code positions, an assumption about CPython's bytecode layout that
`workflow.calls` documents; this fails when that layout changes."""

from __future__ import annotations

import sys
from pathlib import Path

from workflow.calls import caller_location


def test_the_column_is_the_calls_own_mid_line_after_wide_characters() -> None:
    here = sys._getframe().f_lineno + 1
    found = ("é€", caller_location())[1]  # the call starts mid-line, after 2-3 byte characters
    line = Path(__file__).read_text(encoding="utf-8").splitlines()[here - 1]
    assert (found.file, found.line) == (__file__, here)
    assert found.col == line.index("caller_location()") + 1


def test_a_call_spread_over_lines_is_placed_where_it_starts() -> None:
    here = sys._getframe().f_lineno + 1
    found = (0,
             caller_location(
             ))[1]
    assert (found.line, found.col) == (here + 1, 14)
