"""Messages in the pipeline's terms: the interpreter's and Python's wording about calls
(qualified names, binding-internal parameter names, stray backticks) rewritten to name
the builtin and its parameters as the pipeline author wrote them.

The patterns match the binding's wording (and Python's `TypeError` text passed through
it) for the starlark-pyo3 range pinned in pyproject.toml; a pattern that stops matching
leaves the message as the binding said it, and tests/interpreter/test_binding_contract.py
fails, naming it.
"""

from __future__ import annotations

import functools
import re

from engine.common.lazy_pattern import LazyPattern
from engine.common.suggest import did_you_mean

_QUALIFIED = r"`?(?:<[^>]*>\.|[\w./-]+\.star\.)?(?P<fn>\w+)`?"
_EXTRA_NAMED = LazyPattern(
    r"Found (?P<names>`\w+`(?:, `\w+`)*) extra named parameter\(s\) for call to " + _QUALIFIED
)
_EXTRA_POSITIONAL = LazyPattern(
    r"Found (?P<n>\d+) extra positional argument\(s\) for call to " + _QUALIFIED
)
_MISSING = LazyPattern(r"Missing parameter `(?P<name>\w+)` for call to " + _QUALIFIED)
_PY_UNEXPECTED = LazyPattern(
    r"(?:TypeError: )?(?:[\w.]*<locals>\.)?(?P<fn>\w+)\(\) got an unexpected keyword "
    r"argument '(?P<name>\w+)'"
)
_PY_MISSING = LazyPattern(
    r"(?:TypeError: )?(?:[\w.]*<locals>\.)?(?P<fn>\w+)\(\) missing \d+ required "
    r"(?:positional |keyword-only )?arguments?: (?P<names>.+)"
)
_PY_OTHER = LazyPattern(r"(?:TypeError: )?[\w.]*<locals>\.(?P<fn>\w+)\(\)")
_POSITIONAL_PARAM = LazyPattern(r"`a(?P<n>\d+)`")
_TYPE_MISMATCH = LazyPattern(
    r"Type of parameters? (?:`(?P<param>\w+)` doesn't match|mismatch), expected "
    r"`(?P<expected>[^`]+)`, actual `(?P<actual>\w+)(?: \(repr: (?P<repr>.*)\))?`"
)
_TOO_BIG = LazyPattern(r"Integer value is too big to fit in i32: (?P<n>-?\d+)")
_UNPACKING = LazyPattern(
    r"Error unpacking value for parameter `(?P<param>\w+)` of type `(?P<expected>[^`]+)`?"
)


# Messages about calls are short; a long one is the pipeline's own text (a fail() of a
# huge string), which the patterns below would take quadratic time to scan.
_LONGEST = 2000


def rewrite(message: str) -> str:
    """`message` with call mistakes said in the pipeline's terms (unchanged otherwise)."""
    if len(message) > _LONGEST:
        return message
    match = _EXTRA_NAMED.search(message) or _PY_UNEXPECTED.search(message)
    if match:
        names = re.findall(r"\w+", match.group("names")) if "names" in match.groupdict() \
            else [match.group("name")]
        return _no_such_parameter(match.group("fn"), names)
    match = _EXTRA_POSITIONAL.search(message)
    if match:
        count = int(match.group("n"))
        more = "argument" if count == 1 else "arguments"
        return f"{match.group('fn')}() was given {count} positional {more} too many"
    match = _MISSING.search(message) or _PY_MISSING.search(message)
    if match:
        missing = str(match.groupdict().get("name") or match.group("names"))
        listed = ", ".join(f"'{n}'" for n in re.findall(r"\w+", missing) if n != "and")
        return f"{match.group('fn')}() is missing its parameter {listed}"
    match = _TYPE_MISMATCH.search(message)
    if match:
        who = _parameter(match.group("param"))
        actual = match.group("actual")
        shown = f" ({match.group('repr')})" if match.group("repr") else ""
        expected = _article(match.group("expected"))
        subject = f"{who} must be" if who else "expected"
        return f"{subject} {expected}, not {_article(actual)}{shown}"
    match = _UNPACKING.search(message)
    if match:
        expected = match.group("expected").rstrip("`")
        if expected == "int":  # an int the binding could not take: out of 32-bit range
            return (f"{_parameter(match.group('param'))} must be an int from "
                    f"{-(2**31)} to {2**31 - 1}")
        return f"{_parameter(match.group('param'))} must be {_article(expected)}"
    match = _TOO_BIG.search(message)
    if match:
        return (f"the integer {match.group('n')} is too big here (at most {2**31 - 1})")
    match = _PY_OTHER.search(message)
    if match:
        return message[:match.start()] + f"{match.group('fn')}()" + message[match.end():]
    return message


def _parameter(name: str | None) -> str:
    """A parameter as a person names it: positional `a0` is the first argument."""
    if name is None:
        return ""
    positional = _POSITIONAL_PARAM.fullmatch(f"`{name}`")
    if positional:
        # The binding numbers positional parameters from 1 (`range`'s first is `a1`).
        return f"argument {max(1, int(positional.group('n')))}"
    return f"parameter '{name}'"


def _article(kind: str) -> str:
    if kind.startswith(("str ", "tuple[", "list[", "dict[")) or "|" in kind:
        return kind
    word = {"string": "string", "str": "string", "int": "int", "bool": "bool"}.get(kind, kind)
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _no_such_parameter(function: str, names: list[str]) -> str:
    known = builtin_parameters().get(function, ())
    if len(names) == 1:
        hint = did_you_mean(names[0], [k for k in known if k not in ("args", "fields")], 0.5)
        return f"{function}() has no parameter '{names[0]}'{hint}"
    listed = ", ".join(f"'{n}'" for n in names)
    return f"{function}() has no parameters {listed}"


@functools.cache
def builtin_parameters() -> dict[str, tuple[str, ...]]:
    """Each builtin's parameter names, read from the same source as docs/builtins.md."""
    try:
        from pipeline_builtins.reference import entries
    except ImportError:  # pragma: no cover - the package is part of the engine
        return {}
    try:
        found = entries()
    except (OSError, LookupError, SyntaxError):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for entry in found:
        inside = entry.signature[len(entry.name) + 1:-1] if "(" in entry.signature else ""
        names = [part.split("=")[0].strip().lstrip("*") for part in inside.split(",")]
        out[entry.name] = tuple(n for n in names if n)
    return out


_CALLEE = LazyPattern(r"([A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*)*)\s*\(")
_METHOD = LazyPattern(r"\.\s*([A-Za-z_]\w*)\s*\(")
_DEF = LazyPattern(r"^(\s*)def\s+(\w+)\s*\(")


def callee_at(source: str | None, line: int, col: int) -> str | None:
    """The name of the function called at `line:col` (`json.encode`), if a call starts
    there."""
    if source is None or line <= 0 or col <= 0:
        return None
    lines = source.splitlines()
    if line > len(lines):
        return None
    match = _CALLEE.match(lines[line - 1], col - 1)
    if match:
        return re.sub(r"\s+", "", match.group(1))
    method = _METHOD.search(lines[line - 1], col - 1)  # `"a".replace(...)`
    return method.group(1) if method else None


def in_call(message: str, callee: str | None) -> str:
    """Name the called function where the message could not: `function()` or a bare
    `argument 2 ...` / `parameter 'x' ...`."""
    if callee is None or len(message) > _LONGEST:
        return message
    if message.startswith("function() "):
        return f"{callee}() " + message[len("function() "):]
    if message.startswith(("argument ", "parameter '")):
        return f"{callee}(): {message}"
    return message


def enclosing_function(source: str | None, line: int) -> str:
    """The name of the `def` whose body holds `line`, or `<module>`."""
    if source is None or line <= 0:
        return "<module>"
    lines = source.splitlines()
    if line > len(lines):
        return "<module>"
    text = lines[line - 1]
    indent = len(text) - len(text.lstrip())
    for previous in reversed(lines[:line - 1]):
        match = _DEF.match(previous)
        if match and len(match.group(1)) < indent:
            return match.group(2)
        stripped = previous.strip()
        if stripped and not stripped.startswith("#"):
            indent = min(indent, len(previous) - len(previous.lstrip()))
            if indent == 0:
                return "<module>"
    return "<module>"
