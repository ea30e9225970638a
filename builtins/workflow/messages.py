"""What the workflow API says on stderr, and problems worded as the engine shows them."""

from __future__ import annotations

import linecache
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.diagnostics import Diagnostic


def say(text: str) -> None:
    """One line on this process's stderr, flushed at once."""
    print(text, file=sys.stderr, flush=True)


class Stderr:
    """Where `log_next_job` writes: this process's stderr at the time of the call."""

    def write(self, text: str) -> None:
        """Write one line."""
        say(text)


def render(diagnostics: list[Diagnostic], note: str = "") -> str:
    """The problems as the engine shows them (with the source line and a caret)."""
    sources = {d.location.file: "".join(linecache.getlines(d.location.file))
               for d in diagnostics}
    text = "\n".join(d.render(sources) for d in diagnostics)
    return f"{text}\n{note}" if note else text
