"""Regular expressions compiled on first use."""

from __future__ import annotations

import re


class LazyPattern:
    """`re.compile(source, flags)`, compiled the first time it is used.

    For patterns only a failing run needs: the sandbox loads their module before every
    evaluation, and compiling them all took a noticeable share of its start-up.
    """

    __slots__ = ("_compiled", "_flags", "_source")

    def __init__(self, source: str, flags: int = 0) -> None:
        self._source = source
        self._flags = flags
        self._compiled: re.Pattern[str] | None = None

    @property
    def compiled(self) -> re.Pattern[str]:
        """The compiled pattern."""
        if self._compiled is None:
            self._compiled = re.compile(self._source, self._flags)
        return self._compiled

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """`re.Pattern.search`."""
        return self.compiled.search(text, pos)

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """`re.Pattern.match`."""
        return self.compiled.match(text, pos)

    def fullmatch(self, text: str, pos: int = 0) -> re.Match[str] | None:
        """`re.Pattern.fullmatch`."""
        return self.compiled.fullmatch(text, pos)
