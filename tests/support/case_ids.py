"""Test ids for table rows whose text holds characters pytest would escape.

pytest escapes an explicit id (a backslash, a control character, anything outside ASCII)
and caches the result on the mark; a second run in the same process escapes it again,
so the id it printed the first time no longer selects the test. Mutation runs select
tests by those ids, so every explicit id is printable ASCII from the start.
"""

from __future__ import annotations

import re

_WHITE = re.compile(r"\s+")


def case_id(value: object) -> str:
    """`value` as a printable-ASCII id: white space runs become one space, and any other
    character outside printable ASCII, or a backslash, is written as <U+XXXX>."""
    text = _WHITE.sub(" ", str(value)).strip()
    return "".join(c if " " <= c <= "~" and c != "\\" else f"<U+{ord(c):04X}>" for c in text)
