"""The policy's schema as data: every table and key, its kind, its default, its ceiling,
and how two files' values of a kind combine (the stricter wins).

A new key is one line in `SCHEMA` (and a slot in its typed section, engine.policy.sections);
a new kind also needs a check (engine.policy.values), a way to combine (`STRICTER`) and a
JSON Schema (engine.schemas).
"""

from __future__ import annotations

from engine.common.record import Record
from engine.core.jobs import CONDITIONS
from engine.core.limits import Limits
from engine.core.validate import RESERVED_ENV_PREFIXES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

MAX_CALLSTACK_CEILING = 1000  # deeper stacks can crash the interpreter itself
GIT_MISSING_HISTORY = ("error", "all_changed")  # strictest first
PIPELINE_SOURCES = ("ci", "code")  # strictest first
# Sections a [fork_pr] table may tighten for pull requests from forks.
FORK_SECTIONS = ("limits", "builtins", "jobs")

_DEFAULT_LIMITS = Limits()
# Ceilings on numbers, so that a value no run could honour (`inf`, a memory size that
# overflows the operating system's limit) is a configuration error, not a crash later.
_DAY = 86400
_GIB = 1024 * 1024 * 1024
_INT32 = 2**31 - 1


class Key(Record):
    """One key of a table: its kind (a name the checks, the layering and the JSON Schema
    know), its default, and the largest number it may be (None: no ceiling)."""

    __slots__ = ("default", "kind", "maximum")

    def __init__(self, kind: str, default: Any, maximum: float | None = None) -> None:
        self.kind = kind
        self.default = default
        self.maximum = maximum


# section -> key -> Key, in the order `policy show` and the JSON Schema list them.
SCHEMA: dict[str, dict[str, Key]] = {
    "limits": {
        "wall_seconds": Key("positive number", _DEFAULT_LIMITS.wall_seconds, _DAY),
        "cpu_seconds": Key("positive integer", _DEFAULT_LIMITS.cpu_seconds, _DAY),
        "memory_mb": Key("positive integer", _DEFAULT_LIMITS.memory_mb, 1024 * 1024),
        "max_callstack": Key("callstack", _DEFAULT_LIMITS.max_callstack),
        "max_jobs": Key("positive integer", _DEFAULT_LIMITS.max_jobs, 1_000_000),
        "max_output_bytes": Key("positive integer", _DEFAULT_LIMITS.max_output_bytes, _GIB),
        "max_print_bytes": Key("non-negative integer", _DEFAULT_LIMITS.max_print_bytes, _GIB),
    },
    "builtins": {
        "disabled": Key("list of builtin names", ()),
    },
    "jobs": {
        "allowed_images": Key("list of glob patterns", ()),
        "allowed_source_urls": Key("list of glob patterns", ()),
        "allowed_conditions": Key("list of conditions", CONDITIONS),
        "max_priority": Key("integer", 100, _INT32),
        "max_timeout": Key("positive integer", 86400, _INT32),
        "reserved_env_prefixes": Key("list of strings", RESERVED_ENV_PREFIXES),
    },
    "load": {
        "enabled": Key("boolean", True),
        "max_files": Key("non-negative integer", 100, 100_000),
    },
    "git": {
        "on_missing_history": Key("one of: error, all_changed", "error"),
    },
    "trust": {
        # Where an eval job reads the pipeline: the trusted CI checkout, or the code's.
        "pipeline_source": Key("one of: ci, code", "ci"),
        "allow_fork_pipelines": Key("boolean", False),
    },
    "checkout": {
        "timeout_seconds": Key("positive number", 300.0, _DAY),
    },
}

# "section.key" -> ceiling, for the keys that have one.
MAXIMA: dict[str, float] = {
    f"{section}.{name}": key.maximum
    for section, keys in SCHEMA.items() for name, key in keys.items()
    if key.maximum is not None
}


def _stricter_choice(a: str, b: str) -> str:
    return a if GIT_MISSING_HISTORY.index(a) <= GIT_MISSING_HISTORY.index(b) else b


def _stricter_source(a: str, b: str) -> str:
    return a if PIPELINE_SOURCES.index(a) <= PIPELINE_SOURCES.index(b) else b


def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    """Both lists, in order, each item once."""
    return tuple(dict.fromkeys((*a, *b)))


def _intersection(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x for x in a if x in b)


def _layers(a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]
            ) -> tuple[tuple[str, ...], ...]:
    # Allow-lists cannot be intersected as patterns: every layer is kept and a value
    # must match one pattern of each.
    return tuple(dict.fromkeys((*a, *b)))


# kind -> how two files' values of one key combine: the stricter result.
STRICTER: dict[str, Callable[[Any, Any], Any]] = {
    "positive number": min,
    "positive integer": min,
    "non-negative integer": min,
    "callstack": min,
    "integer": min,
    "list of builtin names": union,
    "list of strings": union,
    "list of conditions": _intersection,
    "list of glob patterns": _layers,
    "boolean": lambda a, b: a and b,
    "one of: error, all_changed": _stricter_choice,
    "one of: ci, code": _stricter_source,
}
