"""Checking one value against its kind (engine.policy.schema), with errors that name the
key, what was expected and what was given."""

from __future__ import annotations

from engine.core.diagnostics import UsageError
from engine.core.jobs import CONDITIONS
from engine.policy.schema import MAX_CALLSTACK_CEILING, MAXIMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def check_value(path: str, key: str, kind: str, value: Any) -> Any:
    """`value` (as TOML or JSON gives it) as the policy holds it: numbers and lists in
    their kind's type; UsageError at `path` naming `key` when it does not fit."""
    def wrong() -> UsageError:
        return UsageError(f"{key} must be {with_article(kind)}, got {_describe(value)}", path)

    is_int = isinstance(value, int) and not isinstance(value, bool)
    ceiling = MAXIMA.get(key)
    if ceiling is not None and (is_int or isinstance(value, float)) and value > ceiling:
        raise UsageError(f"{key} may be at most {int(ceiling)}, got {value!r}", path)
    if kind == "positive number":
        if not (is_int or isinstance(value, float)) or not value > 0:
            raise wrong()
        return float(value)
    if kind in ("positive integer", "callstack"):
        if not is_int or value <= 0:
            raise wrong()
        if kind == "callstack" and value > MAX_CALLSTACK_CEILING:
            raise UsageError(f"{key} may be at most {MAX_CALLSTACK_CEILING}, got {value}", path)
        return value
    if kind == "non-negative integer":
        if not is_int or value < 0:
            raise wrong()
        return value
    if kind == "integer":
        if not is_int:
            raise wrong()
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong()
        return value
    if kind.startswith("one of: "):
        if value not in kind.removeprefix("one of: ").split(", "):
            raise wrong()
        return value
    if kind == "list of glob patterns" and isinstance(value, list) and value and all(
            isinstance(v, list) and all(isinstance(g, str) for g in v) for v in value):
        # Layers, as `policy show` writes them: a value must match a pattern of each.
        return tuple(tuple(v) for v in value if v)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise wrong()
    _check_names(path, key, kind, value)
    if kind == "list of glob patterns":
        return (tuple(value),) if value else ()
    return tuple(value)


def _check_names(path: str, key: str, kind: str, value: list[str]) -> None:
    """The items of a list of builtin names or of conditions name real ones."""
    if kind == "list of builtin names":
        from engine.core.builtin_table import DISABLABLE, PREDECLARED

        for name in value:
            if name in PREDECLARED and name not in DISABLABLE:
                raise UsageError(f"{key}: {name} cannot be disabled; disable the functions "
                                 "it carries instead", path)
            if name not in PREDECLARED:
                raise UsageError(
                    f"{key}: {name!r} is not a builtin{suggest(name, PREDECLARED)}", path
                )
    if kind == "list of conditions":
        for name in value:
            if name not in CONDITIONS:
                raise UsageError(f"{key}: {name!r} is not a condition "
                                 f"({', '.join(CONDITIONS)})", path)


def suggest(name: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest of `known`, or nothing."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def with_article(kind: str) -> str:
    """`a list`, `an integer`, and `one of: ...` as it stands."""
    if kind.startswith("one of"):
        return kind
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list" + (" with a non-string item" if value else "")
    if isinstance(value, dict):
        return "a table"
    kind = {"int": "the integer", "float": "the number"}.get(type(value).__name__)
    return f"{kind or type(value).__name__} {value!r}"
