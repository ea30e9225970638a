"""Operator policy: what pipelines may do, read from TOML files and layered strictly.

Several files combine setting by setting, each taking the stricter value, so a file
added later (a project's after an organisation's) can tighten but never loosen. A key
no file sets keeps its built-in default. Unknown keys and wrong types are errors: a
typo in a security policy must never pass silently.
"""

from __future__ import annotations

import os

from engine.common.record import Record
from engine.core.diagnostics import UsageError
from engine.core.jobs import CONDITIONS
from engine.core.limits import Limits
from engine.core.validate import RESERVED_ENV_PREFIXES, JobRules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

POLICY_ENV = "REACTORCIDE_PIPELINE_POLICY"
MAX_CALLSTACK_CEILING = 1000  # deeper stacks can crash the interpreter itself
GIT_MISSING_HISTORY = ("error", "all_changed")  # strictest first
PIPELINE_SOURCES = ("ci", "code")  # strictest first
# Sections a [fork_pr] table may tighten for pull requests from forks.
FORK_SECTIONS = ("limits", "builtins", "jobs")

_DEFAULT_LIMITS = Limits()

# section -> key -> (kind, default). Kinds are checked by `_check_value`.
SCHEMA: dict[str, dict[str, tuple[str, Any]]] = {
    "limits": {
        "wall_seconds": ("positive number", _DEFAULT_LIMITS.wall_seconds),
        "cpu_seconds": ("positive integer", _DEFAULT_LIMITS.cpu_seconds),
        "memory_mb": ("positive integer", _DEFAULT_LIMITS.memory_mb),
        "max_callstack": ("callstack", _DEFAULT_LIMITS.max_callstack),
        "max_jobs": ("positive integer", _DEFAULT_LIMITS.max_jobs),
        "max_output_bytes": ("positive integer", _DEFAULT_LIMITS.max_output_bytes),
        "max_print_bytes": ("non-negative integer", _DEFAULT_LIMITS.max_print_bytes),
    },
    "builtins": {
        "disabled": ("list of builtin names", ()),
    },
    "jobs": {
        "allowed_images": ("list of glob patterns", ()),
        "allowed_source_urls": ("list of glob patterns", ()),
        "allowed_conditions": ("list of conditions", CONDITIONS),
        "max_priority": ("integer", 100),
        "max_timeout": ("positive integer", 86400),
        "reserved_env_prefixes": ("list of strings", RESERVED_ENV_PREFIXES),
    },
    "load": {
        "enabled": ("boolean", True),
        "max_files": ("non-negative integer", 100),
    },
    "git": {
        "on_missing_history": ("one of: error, all_changed", "error"),
    },
    "trust": {
        # Where an eval job reads the pipeline: the trusted CI checkout, or the code's.
        "pipeline_source": ("one of: ci, code", "ci"),
        "allow_fork_pipelines": ("boolean", False),
    },
    "checkout": {
        "timeout_seconds": ("positive number", 300.0),
    },
}


# Ceilings on numbers, so that a value no run could honour (`inf`, a memory size that
# overflows the operating system's limit) is a configuration error, not a crash later.
_DAY = 86400
MAXIMA: dict[str, float] = {
    "limits.wall_seconds": _DAY,
    "limits.cpu_seconds": _DAY,
    "limits.memory_mb": 1024 * 1024,
    "limits.max_jobs": 1_000_000,
    "limits.max_output_bytes": 1024 * 1024 * 1024,
    "limits.max_print_bytes": 1024 * 1024 * 1024,
    "jobs.max_priority": 2**31 - 1,
    "jobs.max_timeout": 2**31 - 1,
    "load.max_files": 100_000,
    "checkout.timeout_seconds": _DAY,
}


def _stricter_choice(a: str, b: str) -> str:
    return a if GIT_MISSING_HISTORY.index(a) <= GIT_MISSING_HISTORY.index(b) else b


def _stricter_source(a: str, b: str) -> str:
    return a if PIPELINE_SOURCES.index(a) <= PIPELINE_SOURCES.index(b) else b


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))


def _intersection(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(x for x in a if x in b)


def _layers(a: tuple[tuple[str, ...], ...], b: tuple[tuple[str, ...], ...]
            ) -> tuple[tuple[str, ...], ...]:
    # Allow-lists cannot be intersected as patterns: every layer is kept and a value
    # must match one pattern of each.
    return tuple(dict.fromkeys((*a, *b)))


# How two files' values of one key combine: the stricter result.
_COMBINE: dict[str, Callable[[Any, Any], Any]] = {
    "positive number": min,
    "positive integer": min,
    "non-negative integer": min,
    "callstack": min,
    "integer": min,
    "list of builtin names": _union,
    "list of strings": _union,
    "list of conditions": _intersection,
    "list of glob patterns": _layers,
    "boolean": lambda a, b: a and b,
    "one of: error, all_changed": _stricter_choice,
    "one of: ci, code": _stricter_source,
}


class Policy(Record):
    """The effective policy of one run."""

    __slots__ = ("files", "layers", "values")

    def __init__(self, values: dict[str, dict[str, Any]], files: tuple[str, ...],
                 layers: tuple[tuple[str, dict[str, dict[str, Any]]], ...] = ()) -> None:
        self.values = values
        self.files = files
        # The checked files, kept so that a fork's stricter layer can be added later.
        self.layers = layers

    def for_fork(self) -> Policy:
        """This policy with every file's `[fork_pr]` table layered on top (stricter
        wins), for a pull request from a fork; itself when no file has one."""
        extra = [(f"{path} [fork_pr]", settings["fork_pr"]) for path, settings in self.layers
                 if settings.get("fork_pr")]
        if not extra:
            return self
        return combine([*self.layers, *extra])

    def get(self, section: str, key: str) -> Any:
        """One setting's effective value."""
        return self.values[section][key]

    @property
    def limits(self) -> Limits:
        """The resource limits."""
        v = self.values["limits"]
        return Limits(
            wall_seconds=float(v["wall_seconds"]),
            cpu_seconds=int(v["cpu_seconds"]),
            memory_mb=int(v["memory_mb"]),
            max_callstack=int(v["max_callstack"]),
            max_jobs=int(v["max_jobs"]),
            max_output_bytes=int(v["max_output_bytes"]),
            max_print_bytes=int(v["max_print_bytes"]),
        )

    @property
    def job_rules(self) -> JobRules:
        """The rules every triggered job must satisfy."""
        v = self.values["jobs"]
        return JobRules(
            allowed_images=v["allowed_images"],
            allowed_source_urls=v["allowed_source_urls"],
            allowed_conditions=v["allowed_conditions"],
            max_priority=v["max_priority"],
            max_timeout=v["max_timeout"],
            # The platform's own prefixes stay reserved whatever a file says.
            reserved_env_prefixes=_union(RESERVED_ENV_PREFIXES, v["reserved_env_prefixes"]),
        )

    @property
    def disabled_builtins(self) -> tuple[str, ...]:
        """Builtins that pipelines may not call."""
        return tuple(self.values["builtins"]["disabled"])


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """The effective values as JSON (tuples become lists), with the files they came from."""
    def plain(value: Any) -> Any:
        return [plain(v) for v in value] if isinstance(value, tuple) else value

    return {
        "files": list(policy.files),
        "values": {section: {key: plain(value) for key, value in keys.items()}
                   for section, keys in policy.values.items()},
    }


def policy_from_json(data: Any, where: str) -> Policy:
    """Inverse of `policy_to_json`, checked like a policy file: a key this engine does not
    know or a wrong type is a UsageError; a key the data lacks keeps its default."""
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise UsageError("the recorded policy is not an object with \"values\"", where)
    values: dict[str, dict[str, Any]] = {}
    given: dict[str, Any] = data["values"]
    for section in given:
        if section not in SCHEMA or not isinstance(given[section], dict):
            raise UsageError(f"the recorded policy has an unknown section [{section}]", where)
    for section, keys in SCHEMA.items():
        table: dict[str, Any] = given.get(section, {})
        unknown = sorted(set(table) - set(keys))
        if unknown:
            raise UsageError(f"the recorded policy has an unknown key {section}.{unknown[0]}",
                             where)
        values[section] = {}
        for key, (kind, default) in keys.items():
            name, value = f"{section}.{key}", table.get(key, default)
            if key not in table:
                values[section][key] = default
            elif kind == "list of glob patterns":
                if not isinstance(value, list):
                    raise UsageError(f"{name} must be a list of lists of glob patterns", where)
                values[section][key] = tuple(
                    layer for v in value for layer in _check_value(where, name, kind, v)
                )
            else:
                values[section][key] = _check_value(where, name, kind, value)
    files = data.get("files", [])
    return Policy(values, tuple(str(f) for f in files) if isinstance(files, list) else ())


def tighten(operator: Policy, recorded: Policy) -> Policy:
    """`recorded` (a transcript's policy) layered over the operator's: every value is the
    stricter of the two, so a recorded policy can tighten the operator's, never loosen it."""
    values = {
        section: {key: _COMBINE[kind](operator.values[section][key],
                                      recorded.values[section][key])
                  for key, (kind, _) in keys.items()}
        for section, keys in SCHEMA.items()
    }
    return Policy(values, operator.files)


def default_policy() -> Policy:
    """The built-in defaults, as when no policy file is given."""
    return combine([])


def policy_files(cli_files: Iterable[str], environ: dict[str, str] | os._Environ[str]
                 ) -> list[str]:
    """Files named by $REACTORCIDE_PIPELINE_POLICY (os.pathsep-separated), then by --policy."""
    value = environ.get(POLICY_ENV, "")
    from_env = value.split(os.pathsep) if value else []
    if "" in from_env:
        # `:` or `a::b` would otherwise apply fewer files than the operator meant.
        raise UsageError(f"{POLICY_ENV} has an empty entry ({value!r}); name each policy "
                         f"file, separated by {os.pathsep!r}", POLICY_ENV)
    return [*from_env, *cli_files]


def load_policy(paths: Iterable[str]) -> Policy:
    """Read and layer policy files; UsageError (exit 2) naming file and key on any mistake."""
    parsed = [(path, _read(path)) for path in paths]
    return combine(parsed)


def combine(parsed: list[tuple[str, dict[str, dict[str, Any]]]]) -> Policy:
    """Layer already-checked files over the defaults."""
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        values[section] = {}
        for key, (kind, default) in keys.items():
            given = [settings[section][key] for _, settings in parsed
                     if key in settings.get(section, {})]
            if not given:
                values[section][key] = default
                continue
            value = given[0]
            for other in given[1:]:
                value = _COMBINE[kind](value, other)
            values[section][key] = value
    return Policy(values, tuple(path for path, _ in parsed), tuple(parsed))


def _read(path: str) -> dict[str, dict[str, Any]]:
    import tomllib

    from engine.common.regular_file import FileRefused, MiB, read_regular

    try:
        data = tomllib.loads(read_regular(path, MiB, what="policy file").decode("utf-8"))
    except FileNotFoundError:
        raise UsageError("policy file not found", path) from None
    except FileRefused as err:
        raise UsageError(str(err), path) from None
    except OSError as err:
        raise UsageError(f"cannot read the policy file: {err.strerror}", path) from None
    except UnicodeDecodeError:
        raise UsageError("policy file is not UTF-8 text", path) from None
    except tomllib.TOMLDecodeError as err:
        raise UsageError(f"policy file is not valid TOML: {err}", path) from None
    checked: dict[str, dict[str, Any]] = {}
    fork = data.pop("fork_pr", None)
    if fork is not None:
        checked["fork_pr"] = _read_fork_table(path, fork)
    for section, table in data.items():
        if not isinstance(table, dict) and section in SCHEMA:
            raise UsageError(f"[{section}] must be a table", path)
        if not isinstance(table, dict):
            owner = [name for name, keys in SCHEMA.items() if section in keys]
            where = f"[{owner[0]}]" if owner else f"one of {_sections()}"
            raise UsageError(f"{section} is set outside any section; settings belong in "
                             f"a section: {where}", path)
        if section not in SCHEMA:
            raise UsageError(f"unknown section [{section}]"
                             f"{_suggest(section, SCHEMA) or ' (known: ' + _sections() + ')'}",
                             path)
        checked[section] = {}
        for key, value in table.items():
            if key not in SCHEMA[section]:
                known = ", ".join(SCHEMA[section])
                raise UsageError(
                    f"unknown key {section}.{key}"
                    f"{_suggest(key, SCHEMA[section]) or f' ([{section}] has: {known})'}",
                    path,
                )
            kind = SCHEMA[section][key][0]
            checked[section][key] = _check_value(path, f"{section}.{key}", kind, value)
    return checked


def _read_fork_table(path: str, table: Any) -> dict[str, dict[str, Any]]:
    """`[fork_pr]`: tables with the keys of [limits], [builtins] and [jobs]."""
    if not isinstance(table, dict):
        raise UsageError("[fork_pr] must be a table", path)
    out: dict[str, dict[str, Any]] = {}
    for section, settings in table.items():
        if section not in FORK_SECTIONS or not isinstance(settings, dict):
            known = ", ".join(f"[fork_pr.{name}]" for name in FORK_SECTIONS)
            raise UsageError(f"fork_pr.{section} is not one of {known}", path)
        out[section] = {}
        for key, value in settings.items():
            if key not in SCHEMA[section]:
                raise UsageError(f"unknown key fork_pr.{section}.{key}"
                                 f"{_suggest(key, SCHEMA[section])}", path)
            kind = SCHEMA[section][key][0]
            out[section][key] = _check_value(path, f"{section}.{key}", kind, value)
    return out


def _sections() -> str:
    return ", ".join(f"[{name}]" for name in SCHEMA)


def _suggest(name: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_value(path: str, key: str, kind: str, value: Any) -> Any:
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
    if kind == "list of builtin names":
        from engine.core.builtin_table import DISABLABLE, PREDECLARED

        for name in value:
            if name in PREDECLARED and name not in DISABLABLE:
                raise UsageError(f"{key}: {name} cannot be disabled; disable the functions "
                                 "it carries instead", path)
            if name not in PREDECLARED:
                raise UsageError(
                    f"{key}: {name!r} is not a builtin{_suggest(name, PREDECLARED)}", path
                )
    if kind == "list of conditions":
        for name in value:
            if name not in CONDITIONS:
                raise UsageError(f"{key}: {name!r} is not a condition "
                                 f"({', '.join(CONDITIONS)})", path)
    if kind == "list of glob patterns":
        return (tuple(value),) if value else ()
    return tuple(value)


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


def render_toml(policy: Policy) -> str:
    """The effective policy as TOML, with where it came from."""
    lines = ["# effective pipeline policy"]
    if policy.files:
        lines.append("# layered from: " + ", ".join(policy.files))
    else:
        lines.append("# built-in defaults (no policy file given)")
    for section, keys in SCHEMA.items():
        lines.append("")
        lines.append(f"[{section}]")
        for key, (kind, _) in keys.items():
            value = policy.values[section][key]
            if kind == "list of glob patterns":
                if len(value) > 1:
                    lines.append(f"# {key}: a value must match a pattern of every list")
                    lines.append(f"{key} = [{', '.join(_toml(list(v)) for v in value)}]")
                    continue
                value = value[0] if value else ()
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)
