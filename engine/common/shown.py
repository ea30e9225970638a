"""Text the engine shows on behalf of others (the pipeline, git, the coordinator).

A CI log renders terminal controls: an ESC sequence, a carriage return or a bidi
override in a pipeline's print, a file name or a server's answer could rewrite or hide
earlier lines. They are shown escaped (`\\x1b`, `\\r`, `\\u202e`); a newline and a tab
stay as they are.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                       "\u202a-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if char == "\r":
        return "\\r"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control character other than newline and tab escaped."""
    return _CONTROLS.sub(_escape, text)
