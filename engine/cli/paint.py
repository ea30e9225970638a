"""Colour for errors and warnings on a terminal: `--color=auto|always|never`, and
`NO_COLOR` (https://no-color.org) honoured in `auto`."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

    from engine.core.diagnostics import Diagnostic

WHEN = ("auto", "always", "never")
_RESET = "\033[0m"
_STYLE = {"error": "\033[1;31m", "warning": "\033[1;33m", "note": "\033[1;36m"}
_BOLD = "\033[1m"


def wanted(when: str | None, stream: TextIO, env: Mapping[str, str]) -> bool:
    """Whether to colour what goes to `stream`."""
    if when == "always":
        return True
    if when == "never":
        return False
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Paint:
    """Colours the head line of a rendered diagnostic (location bold, severity coloured)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def diagnostic(self, d: Diagnostic, text: str) -> str:
        """`text` (d rendered) with its first line coloured when enabled."""
        head = f"{d.location}: {d.severity}: "
        if not self.enabled or not text.startswith(head):
            return text
        style = _STYLE.get(d.severity, _BOLD)
        return (f"{_BOLD}{d.location}:{_RESET} {style}{d.severity}:{_RESET} "
                + text[len(head):])
