"""Where a problem is and how it is shown to the person who has to fix it."""

from __future__ import annotations

from engine.common.record import Record


class Location(Record):
    """A 1-based position in a pipeline file; line 0 means "the file as a whole"."""

    __slots__ = ("col", "file", "line")

    def __init__(self, file: str, line: int = 0, col: int = 0) -> None:
        self.file = file
        self.line = line
        self.col = col

    def __str__(self) -> str:
        if self.line <= 0:
            return self.file
        if self.col <= 0:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"

    def to_json(self) -> dict[str, object]:
        """The location as a JSON-ready mapping."""
        return {"file": self.file, "line": self.line, "col": self.col}

    @classmethod
    def from_json(cls, data: object) -> Location:
        """Inverse of `to_json`; tolerant of missing keys."""
        if not isinstance(data, dict):
            return cls("<unknown>")
        return cls(str(data.get("file", "<unknown>")), int(data.get("line", 0)),
                   int(data.get("col", 0)))


class Frame(Record):
    """One Starlark call-stack frame, outermost first in a stack."""

    __slots__ = ("function", "location", "source")

    def __init__(self, location: Location, function: str, source: str = "") -> None:
        self.location = location
        self.function = function
        self.source = source

    def to_json(self) -> dict[str, object]:
        """The frame as a JSON-ready mapping."""
        return {"location": self.location.to_json(), "function": self.function,
                "source": self.source}


class Diagnostic(Record):
    """One problem, rendered as `FILE:LINE:COL: error: MESSAGE` plus its call stack."""

    __slots__ = ("location", "message", "severity", "stack")

    def __init__(self, location: Location, message: str, severity: str = "error",
                 stack: tuple[Frame, ...] = ()) -> None:
        self.location = location
        self.message = message
        self.severity = severity
        self.stack = stack

    def render(self, sources: dict[str, str] | None = None) -> str:
        """Human-readable text; `sources` (file -> text) adds a caret under the column."""
        lines = [f"{self.location}: {self.severity}: {self.message}"]
        if len(self.stack) > 1:
            lines.append("  call stack (most recent call last):")
            lines.extend(_render_stack(self.stack))
        snippet = _snippet(self.location, sources or {})
        if snippet:
            lines.extend(snippet)
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        """The diagnostic as a JSON-ready mapping (used across the sandbox boundary)."""
        return {
            "location": self.location.to_json(),
            "message": self.message,
            "severity": self.severity,
            "stack": [frame.to_json() for frame in self.stack],
        }

    @classmethod
    def from_json(cls, data: object) -> Diagnostic:
        """Inverse of `to_json`."""
        if not isinstance(data, dict):
            return cls(Location("<unknown>"), "malformed diagnostic")
        frames = tuple(
            Frame(Location.from_json(f.get("location")), str(f.get("function", "")),
                  str(f.get("source", "")))
            for f in data.get("stack", []) if isinstance(f, dict)
        )
        return cls(Location.from_json(data.get("location")), str(data.get("message", "")),
                   str(data.get("severity", "error")), frames)


_STACK_HEAD = 5
_STACK_TAIL = 5


def _render_stack(stack: tuple[Frame, ...]) -> list[str]:
    shown: list[Frame | None] = list(stack)
    if len(stack) > _STACK_HEAD + _STACK_TAIL + 1:
        shown = [*stack[:_STACK_HEAD], None, *stack[-_STACK_TAIL:]]
    out: list[str] = []
    for frame in shown:
        if frame is None:
            out.append(f"    ... {len(stack) - _STACK_HEAD - _STACK_TAIL} more frames ...")
            continue
        out.append(f"    {frame.location} in {frame.function}")
        if frame.source:
            out.append(f"      {frame.source}")
    return out


def _snippet(location: Location, sources: dict[str, str]) -> list[str]:
    text = sources.get(location.file)
    if text is None or location.line <= 0:
        return []
    lines = text.splitlines()
    if location.line > len(lines):
        return []
    line = lines[location.line - 1].expandtabs(4)
    gutter = " " * len(str(location.line))
    out = [f"{gutter} |", f"{location.line} | {line}"]
    if location.col > 0:
        out.append(f"{gutter} | {' ' * (location.col - 1)}^")
    return out


class EngineFailure(Exception):
    """Raised to end a run with an exit code and diagnostics; never shows a traceback."""

    exit_code = 1

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("\n".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics
        # Filled in on the way up when known: what the run used, and the texts of the
        # files the diagnostics point into (for the caret under the column).
        self.usage: object | None = None
        self.sources: dict[str, str] = {}


class PipelineFailed(EngineFailure):
    """The pipeline is wrong: syntax, runtime error, fail(), validation or a limit (exit 1)."""

    exit_code = 1


class UsageError(EngineFailure):
    """The command line or the environment is wrong (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, where: str = "engine") -> None:
        super().__init__([Diagnostic(Location(where), message)])
