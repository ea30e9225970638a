"""Reading locations and call stacks out of starlark-pyo3's error and call-stack text.

The binding reports errors only as text: a `Traceback` block of `* file:line, in name`
frames, an `error: ...` message, and one or more ` --> file:line:col` pointers
(innermost first). These helpers turn that text into `Diagnostic` parts.

The text is the binding's, not a documented format: the patterns here were written
against the starlark-pyo3 range pinned in pyproject.toml, and
tests/interpreter/test_binding_contract.py fails, naming the pattern, when a release
words it differently.
"""

from __future__ import annotations

import functools
import re

from engine.core.diagnostics import Frame, Location

PRELUDE_FILE = "<engine prelude>"

# A frame line, then (optionally) the frame's source line, indented deeper.
_FRAME_RE = re.compile(r"^[ \t]*\* (.*):(\d+), in (.*)$(?:\n[ \t]+(?!\* )(\S.*)$)?", re.M)
_POINTER_RE = re.compile(r"^\s*--> (.*?):(\d+):(\d+)(?:-\d+(?::\d+)?)?\s*$")
_CALLSITE_RE = re.compile(
    r"(?:\b[A-Za-z_][A-Za-z0-9_]*\s*\.\s*)?\b(?:trigger_job|submit_job)\s*\("
)


def parse_frames(text: str, sources: dict[str, str], keep_engine: bool = False
                 ) -> list[Frame]:
    """Frames of a `Traceback`/`call_stack()` text, outermost first, engine frames dropped
    (unless `keep_engine`).

    Columns are recovered from the source line (the text carries none).
    """
    frames: list[Frame] = []
    for match in _FRAME_RE.finditer(text):
        file = match.group(1)
        if file == PRELUDE_FILE and not keep_engine:
            continue
        line = int(match.group(2))
        col = callsite_column(sources.get(file), line, fallback=False)
        frames.append(Frame(Location(file, line, col), match.group(3), match.group(4) or ""))
    return frames


def call_column(source: str | None, line: int, function: str) -> int:
    """Column of a call to `function` (or `x.function`) on `line`; 0 when not found."""
    if source is None or line <= 0:
        return 0
    lines = _lines(source)
    if line > len(lines):
        return 0
    pattern = re.compile(
        r"(?:\b[A-Za-z_][A-Za-z0-9_]*\s*\.\s*)?\b" + re.escape(function) + r"\s*\("
    )
    match = pattern.search(lines[line - 1])
    return match.start() + 1 if match else 0


def callsite_column(
    source: str | None, line: int, fallback: bool = True, occurrence: int = 0
) -> int:
    """Column of the job-creating call on `line`; else (with `fallback`) of its code.

    0 when unknown. On a line holding several such calls, `occurrence` picks one
    (counted modulo their number, so repeated runs of the line cycle through them).
    """
    if source is None or line <= 0:
        return 0
    calls, code = _columns(source, line)
    if calls:
        return calls[occurrence % len(calls)]
    return code if fallback else 0


@functools.lru_cache(maxsize=4096)
def _columns(source: str, line: int) -> tuple[tuple[int, ...], int]:
    """Columns of the job-creating calls on a line, and of its first code character."""
    lines = _lines(source)
    if line > len(lines):
        return (), 0
    text = lines[line - 1]
    calls = tuple(m.start() + 1 for m in _CALLSITE_RE.finditer(text))
    return calls, len(text) - len(text.lstrip()) + 1


@functools.lru_cache(maxsize=64)
def _lines(source: str) -> list[str]:
    return source.splitlines()


def pointers(text: str) -> list[Location]:
    """Every ` --> file:line:col` pointer in an error text, innermost first."""
    out: list[Location] = []
    for line in text.splitlines():
        match = _POINTER_RE.match(line)
        if match:
            out.append(Location(match.group(1), int(match.group(2)), int(match.group(3))))
    return out


_OWN_ERROR_PREFIXES = ("BuiltinError: ", "JobError: ", "LoadRefused: ")


def message_of(text: str) -> str:
    """The human message of an error text: the `error:` lines, without engine class names."""
    lines = text.splitlines()
    collected: list[str] = []
    capturing = False
    for line in lines:
        if not capturing and line.startswith("error: "):
            capturing = True
            line = line[len("error: "):]
        elif capturing and _POINTER_RE.match(line):
            break
        if capturing:
            collected.append(line)
    message = "\n".join(collected).strip() if collected else text.strip()
    # An error raised in a loaded module arrives wrapped: unwrap repeatedly.
    changed = True
    while changed:
        changed = False
        for prefix in ("StarlarkError: ", "error: ", *_OWN_ERROR_PREFIXES):
            if message.startswith(prefix):
                message = message[len(prefix):]
                changed = True
    return message


_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = frozenset(_OPENERS.values())


def at_end_of_file(location: Location, message: str, source: str | None
                   ) -> tuple[Location, str]:
    """Where a parse error at the end of a file really is.

    The binding places an error found at the end of the file (an unclosed bracket, a
    missing block) at 1:1. Point just after the last code of the file instead, and name
    the bracket that is never closed.
    """
    if (source is None or (location.line, location.col) != (1, 1)
            or not message.startswith("Parse error: unexpected")
            or not ("end of file" in message or "new line" in message)):
        return location, message
    unclosed, (line, col) = _scan(source)
    if line:
        location = Location(location.file, line, col + 1)
    if unclosed is not None:
        char, line, col = unclosed
        message += f" (the {char!r} at {line}:{col} is never closed)"
    return location, message


_UNEXPECTED = re.compile(r"^Parse error: unexpected (?P<what>.+?) here(?P<rest>.*)$", re.S)
_LONG_EXPECTATION = 6  # more expected tokens than this is a parser dump, not a hint


def unclosed_mid_file(location: Location, message: str, source: str | None) -> str:
    """A parse error inside a bracket opened on an earlier line (or met by the wrong
    closer) names that bracket: `(the '(' at 1:12 is never closed)`; a long list of the
    tokens the parser expected is then left out."""
    match = _UNEXPECTED.match(message)
    if source is None or match is None or location.line <= 0 or "never closed" in message:
        return message
    unclosed, _ = _scan(source, (location.line, max(location.col, 1)))
    if unclosed is None:
        return message
    char, line, col = unclosed
    what = match.group("what")
    wrong_closer = what.startswith("symbol '") and what[8:9] in _CLOSERS
    if line >= location.line and not wrong_closer:
        return message
    rest = match.group("rest")
    if rest.count('", "') + 1 > _LONG_EXPECTATION:
        rest = ""
    return f"Parse error: unexpected {what} here{rest} (the {char!r} at {line}:{col} is " \
           "never closed)"


def _scan(source: str, stop: tuple[int, int] | None = None
          ) -> tuple[tuple[str, int, int] | None, tuple[int, int]]:
    """The innermost bracket still open at the end of `source` (bracket, line, column),
    or just before `stop` (line, column), and the position of the last character of
    code; strings and comments are skipped."""
    stack: list[tuple[str, int, int]] = []
    last = (0, 0)
    line, col, index = 1, 1, 0
    quote: str | None = None
    while index < len(source):
        if stop is not None and (line, col) >= stop:
            break
        char = source[index]
        step = 1
        if quote is not None:
            if char == "\\":
                step = 2
            elif source.startswith(quote, index):
                step, quote = len(quote), None
        elif char == "#":
            end = source.find("\n", index)
            step = (len(source) if end < 0 else end) - index
        elif char in "'\"":
            quote = char * 3 if source.startswith(char * 3, index) else char
            step = len(quote)
        elif char in _OPENERS:
            stack.append((char, line, col))
        elif char in _CLOSERS and stack and _OPENERS[stack[-1][0]] == char:
            stack.pop()
        for passed in source[index:index + step]:
            if passed == "\n":
                line, col = line + 1, 1
            else:
                if not passed.isspace() and (char != "#" or quote is not None):
                    last = (line, col)
                col += 1
        index += step
    return (stack[-1] if stack else None), last
