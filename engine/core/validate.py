"""Validation of one job: its fields on their own, and the operator's rules for them.

The same rules run twice: in the sandbox at the `trigger_job` call (so the error points
at the caller's line at once) and in the parent on everything the sandbox returned (the
parent never trusts the child). What needs every job (duplicates, unknown dependencies,
cycles) is `engine.core.job_graph`'s.
"""

from __future__ import annotations

import math
import re

from engine.common.record import Record
from engine.core.jobs import (
    AUTHORITY_FIELDS,
    CONDITIONS,
    FORBIDDEN_KEYS,
    OPTIONAL_FIELDS,
    SOURCE_TYPES,
)
from engine.core.plain_job import plain_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JOB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_JOB_NAME = 255
RESERVED_ENV_PREFIXES = ("REACTORCIDE_", "RC_WF_")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class JobError(ValueError):
    """A job is invalid; the message names the job and the rule."""


class JobRules(Record):
    """An operator's rules for jobs (see engine.policy); the defaults allow what the
    coordinator accepts.

    `allowed_images` and `allowed_source_urls` are layers of glob patterns: a value must
    match one pattern of every layer (no layer: anything).
    """

    __slots__ = (
        "allowed_conditions",
        "allowed_images",
        "allowed_source_urls",
        "max_priority",
        "max_timeout",
        "reserved_env_prefixes",
    )

    def __init__(
        self,
        *,
        allowed_images: tuple[tuple[str, ...], ...] = (),
        allowed_source_urls: tuple[tuple[str, ...], ...] = (),
        allowed_conditions: tuple[str, ...] = CONDITIONS,
        max_priority: int | None = None,
        max_timeout: int | None = None,
        reserved_env_prefixes: tuple[str, ...] = RESERVED_ENV_PREFIXES,
    ) -> None:
        self.allowed_images = allowed_images
        self.allowed_source_urls = allowed_source_urls
        self.allowed_conditions = allowed_conditions
        self.max_priority = max_priority
        self.max_timeout = max_timeout
        self.reserved_env_prefixes = reserved_env_prefixes

    def to_json(self) -> dict[str, Any]:
        """The rules as a JSON-ready mapping (to hand them to the sandbox)."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRules:
        """Inverse of `to_json`."""
        return cls(
            allowed_images=tuple(tuple(layer) for layer in data["allowed_images"]),
            allowed_source_urls=tuple(tuple(layer) for layer in data["allowed_source_urls"]),
            allowed_conditions=tuple(data["allowed_conditions"]),
            max_priority=data["max_priority"],
            max_timeout=data["max_timeout"],
            reserved_env_prefixes=tuple(data["reserved_env_prefixes"]),
        )

    def check(self, fields: dict[str, Any]) -> None:
        """Raise JobError naming every policy rule the job's fields break."""
        broken: list[str] = []
        condition = fields.get("condition")
        if condition not in self.allowed_conditions:
            broken.append(f"condition {condition!r} is not allowed by the policy "
                          "(jobs.allowed_conditions)")
        priority = fields.get("priority")
        if self.max_priority is not None and priority is not None and (
            priority > self.max_priority
        ):
            broken.append(f"priority {priority} is above the policy's maximum of "
                          f"{self.max_priority} (jobs.max_priority)")
        timeout = fields.get("timeout")
        if self.max_timeout is not None and timeout is not None and timeout > self.max_timeout:
            broken.append(f"timeout {timeout} is above the policy's maximum of "
                          f"{self.max_timeout} s (jobs.max_timeout)")
        broken += _not_allowed(fields, ("container_image",), self.allowed_images,
                               "jobs.allowed_images")
        broken += _not_allowed(fields, ("source_url", "ci_source_url"),
                               self.allowed_source_urls, "jobs.allowed_source_urls")
        if broken:
            raise JobError("; ".join(broken))


def _not_allowed(fields: dict[str, Any], keys: tuple[str, ...],
                 layers: tuple[tuple[str, ...], ...], rule: str) -> list[str]:
    if not layers:
        return []
    from fnmatch import fnmatchcase

    broken = []
    for key in keys:
        value = fields.get(key)
        if value is None:
            continue
        if not all(any(fnmatchcase(value, pattern) for pattern in layer) for layer in layers):
            broken.append(f"{key} {value!r} is not allowed by the policy ({rule})")
    return broken


DEFAULT_RULES = JobRules()


def _type_name(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    return {int: "int", float: "float", str: "string", list: "list", dict: "dict"}.get(
        type(value), type(value).__name__
    )


def check_job_name(name: Any) -> str:
    """Return the name when valid, else raise JobError."""
    if not isinstance(name, str):
        raise JobError(f"job_name must be a string, got {_type_name(name)}")
    if not name:
        raise JobError("job_name must not be empty")
    if len(name) > MAX_JOB_NAME:
        raise JobError(f"job_name is {len(name)} characters long; the limit is {MAX_JOB_NAME}")
    if not JOB_NAME_RE.match(name):
        raise JobError(
            f"job_name {name!r} is not allowed: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    return name


def normalize_job(
    name: Any,
    env: Any,
    depends_on: Any,
    condition: Any,
    extra: dict[str, Any],
    rules: JobRules | None = None,
) -> dict[str, Any]:
    """Check one `trigger_job` call's arguments and return the job's fields.

    Raises JobError naming the job and the first broken rule, the policy's included.
    """
    rules = rules or DEFAULT_RULES
    plain = plain_fields(name, env, depends_on, condition, extra, rules)
    if plain is not None:
        return plain
    reserved = rules.reserved_env_prefixes
    job = check_job_name(name)
    fields: dict[str, Any] = {"job_name": job}

    # Every problem is named, not only the first: one fix per run is slow going.
    broken: list[str] = []
    steps: list[tuple[str, Any]] = [("env", lambda: _check_env(env, reserved)),
                                    ("depends_on", lambda: _check_depends_on(depends_on)),
                                    ("condition", lambda: _check_condition(condition))]
    steps += [(key, lambda key=key: _check_field(key, extra[key], reserved))
              for key in sorted(extra)]
    for key, check in steps:
        try:
            fields[key] = check()
        except JobError as err:
            broken.append(str(err))
    try:
        rules.check({"condition": rules.allowed_conditions[0]
                     if rules.allowed_conditions else None, **fields})
    except JobError as err:
        broken.append(str(err))
    if broken:
        raise JobError(f'job "{job}": ' + "; ".join(broken))
    return fields


def normalize_document(job: Any, rules: JobRules | None = None) -> dict[str, Any]:
    """Check a job given as a triggers-file object (all fields in one mapping)."""
    if not isinstance(job, dict):
        raise JobError(f"a job must be an object, got {_type_name(job)}")
    fields = dict(job)
    return normalize_job(
        fields.pop("job_name", None),
        fields.pop("env", None),
        fields.pop("depends_on", None),
        fields.pop("condition", None),
        fields,
        rules,
    )


def _check_env(env: Any, reserved: tuple[str, ...]) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise JobError(f"env must be a dict of strings, got {_type_name(env)}")
    out: dict[str, str] = {}
    for key, value in env.items():
        _check_env_name(key, "env key", reserved)
        if not isinstance(value, str):
            raise JobError(f"env[{key!r}] must be a string, got {_type_name(value)}")
        out[key] = value
    return out


def _check_env_name(key: Any, what: str, reserved: tuple[str, ...]) -> str:
    if not isinstance(key, str):
        raise JobError(f"{what} must be a string, got {_type_name(key)}")
    if not ENV_NAME_RE.match(key):
        raise JobError(
            f"{what} {key!r} is not a valid variable name (letters, digits and '_', "
            "not starting with a digit)"
        )
    if reserved and key.startswith(reserved):
        prefix = next(p for p in reserved if key.startswith(p))
        raise JobError(f"{what} {key!r} uses the reserved prefix {prefix!r}")
    if key in FORBIDDEN_KEYS:
        raise JobError(f"{what} {key!r} is refused: the coordinator rejects the key {key!r}")
    return key


def _check_depends_on(depends_on: Any) -> list[str]:
    if depends_on is None:
        return []
    if not isinstance(depends_on, list):
        raise JobError(f"depends_on must be a list of job names, got {_type_name(depends_on)}")
    seen: set[str] = set()
    for dep in depends_on:
        if not isinstance(dep, str):
            raise JobError(f"depends_on must hold job names (strings), got {_type_name(dep)}")
        try:
            check_job_name(dep)
        except JobError as err:
            raise JobError(f"depends_on: {err}") from None
        if dep in seen:
            raise JobError(f"depends_on lists {dep!r} twice")
        seen.add(dep)
    return list(depends_on)


def _check_condition(condition: Any) -> str:
    if condition is None:
        return "all_success"
    if condition not in CONDITIONS:
        raise JobError(
            f"condition {condition!r} is not one of {', '.join(CONDITIONS)}"
        )
    return str(condition)


def _check_field(key: str, value: Any, reserved: tuple[str, ...]) -> Any:
    if key in AUTHORITY_FIELDS:
        raise JobError(f"field {key!r} is set by the platform and may not be set by a pipeline")
    if key in FORBIDDEN_KEYS:
        raise JobError(f"field {key!r} is refused: the coordinator rejects the key {key!r}")
    kind = OPTIONAL_FIELDS.get(key)
    if kind is None:
        from engine.common.suggest import did_you_mean

        raise JobError(f"unknown field {key!r}{did_you_mean(key, OPTIONAL_FIELDS, 0.7)}")
    if value is None:
        return None
    from engine.core import coordinator_rules as coordinator

    try:
        return _check_kind(key, kind, value, reserved)
    except coordinator.RuleError as err:
        raise JobError(str(err)) from None


def _check_kind(key: str, kind: str, value: Any, reserved: tuple[str, ...]) -> Any:
    from engine.core import coordinator_rules as coordinator

    if key == "job_file":
        coordinator.check_job_file(value)
    if kind == "for_each":
        coordinator.check_for_each(value)
    if kind == "str":
        if not isinstance(value, str):
            raise JobError(f"{key} must be a string, got {_type_name(value)}")
    elif kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise JobError(f"{key} must be an int, got {_type_name(value)}")
        _check_int64(key, value)
    elif kind == "timeout":
        if not isinstance(value, int) or isinstance(value, bool):
            raise JobError(f"{key} must be an int (seconds), got {_type_name(value)}")
        _check_int64(key, value)
        if value <= 0:
            raise JobError(f"{key} must be greater than 0, got {value}")
    elif kind == "source_type":
        if value not in SOURCE_TYPES:
            raise JobError(f"{key} {value!r} is not one of {', '.join(SOURCE_TYPES)}")
    elif kind == "str_list":
        if not isinstance(value, list):
            raise JobError(f"{key} must be a list of strings, got {_type_name(value)}")
        for item in value:
            if not isinstance(item, str):
                raise JobError(f"{key} must hold only strings, got {_type_name(item)}")
        if key == "image_pull_secrets":
            coordinator.check_image_pull_secrets(value)
    elif kind == "env_name":
        _check_env_name(value, key, reserved)
    elif kind == "map":
        _check_map(key, value)
        if key == "characteristics":
            coordinator.check_characteristics(value)
        elif key == "resources":
            coordinator.check_resources(value)
    return value


def _check_map(key: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise JobError(f"{key} must be a dict, got {_type_name(value)}")
    for k, v in value.items():
        if not isinstance(k, str):
            raise JobError(f"{key} keys must be strings, got {_type_name(k)}")
        if k in FORBIDDEN_KEYS:
            raise JobError(f"{key} key {k!r} is refused: the coordinator rejects the key {k!r}")
        if key == "resources":
            continue  # nested: engine.core.coordinator_rules checks the shape
        if not isinstance(v, (str, int, float, bool)):
            raise JobError(
                f"{key}[{k!r}] must be a string, number or bool, got {_type_name(v)}"
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise JobError(f"{key}[{k!r}] must be a finite number, got {v}")
        if isinstance(v, int) and not isinstance(v, bool):
            _check_int64(f"{key}[{k!r}]", v)


def _check_int64(key: str, value: int) -> None:
    # The coordinator decodes integers as 64-bit; the value itself may be too long to
    # print, so the message does not show it.
    if not INT64_MIN <= value <= INT64_MAX:
        raise JobError(f"{key} is outside the 64-bit integer range the coordinator decodes")
