"""Indented JSON text, byte-identical to `json.dumps(value, indent=2, ensure_ascii=False,
allow_nan=False)`, without the standard library's pure-Python encoder.

`json.dumps` uses its C encoder only without `indent`; with it, a 10,000-job triggers
document spends most of a run in generator frames. This renderer walks the value once,
appending pieces to one list, and leaves strings to the C string encoder. Anything it does
not know exactly (a subclass, a non-string key, a non-finite number) goes to `json.dumps`
itself, so the bytes never differ.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring  # the C implementation when available

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INDENT = "  "


class _Unusual(Exception):
    """A value outside the exact types this renderer handles."""


def dumps_indented(value: Any, end: str = "") -> str:
    """`value` as 2-space indented JSON text (non-ASCII kept, NaN and infinity refused),
    followed by `end`."""
    out: list[str] = []
    try:
        _render(value, "\n", out)
    except _Unusual:
        return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + end
    out.append(end)
    return "".join(out)


def item_text(value: Any, depth: int) -> str:
    """`value`'s text as `dumps_indented` writes it as an item of a list `depth` levels
    deep (the top value is at depth 0): the same bytes, made on its own."""
    newline = "\n" + _INDENT * depth
    pieces: list[str] = []
    try:
        _render(value, newline, pieces)
    except _Unusual:
        # JSON text has line breaks only between its parts (a string's are escaped).
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        return text.replace("\n", newline)
    return "".join(pieces)


def _render(value: Any, newline: str, out: list[str]) -> None:
    """Append `value`'s text; `newline` is a line break plus the current indentation."""
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + _INDENT
        separator = "{" + inner
        for key, item in value.items():
            if type(key) is not str:
                raise _Unusual
            out.append(separator)
            out.append(encode_basestring(key))
            out.append(": ")
            item_kind = type(item)
            if item_kind is str:
                out.append(encode_basestring(item))
            else:
                _render(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list:
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        separator = "[" + inner
        # The items of a list near the top (the jobs) are joined one by one, so that the
        # pieces of a large document do not all exist at once.
        shallow = len(newline) <= 1 + 2 * len(_INDENT)
        for item in value:
            out.append(separator)
            if type(item) is str:
                out.append(encode_basestring(item))
            elif shallow:
                pieces: list[str] = []
                _render(item, inner, pieces)
                out.append("".join(pieces))
            else:
                _render(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (float("inf"), float("-inf")):
        out.append(float.__repr__(value))
    else:
        raise _Unusual
