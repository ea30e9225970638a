"""The common case of a job, accepted in one pass: plain strings, known simple fields.

`engine.core.validate.normalize_job` runs every rule on every job and collects every
problem with its message. Almost every job of a large matrix is valid and made only of
strings, names and small integers; for those, `plain_fields` gives the same fields in a
fraction of the time. It never refuses anything: what it does not accept outright (a
problem, a subclass, a field with a structured value, a policy rule that fires) returns
None, and the full check decides and words the error.
"""

from __future__ import annotations

import re

from engine.core.jobs import CONDITIONS, FORBIDDEN_KEYS, OPTIONAL_FIELDS, SOURCE_TYPES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The same pattern and bounds as engine.core.validate's (a test holds them equal).
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_NAME = NAME_RE.match
MAX_NAME = 255
_INT64 = (-(2**63), 2**63 - 1)
# Fields whose value is one string or one number and has no rule of its own beyond its
# kind; `job_file` is a string the coordinator refuses, so it always takes the full path.
_SIMPLE = {key: kind for key, kind in OPTIONAL_FIELDS.items()
           if kind in ("str", "int", "timeout", "source_type") and key != "job_file"}


def plain_fields(name: Any, env: Any, depends_on: Any, condition: Any,
                 extra: dict[str, Any], rules: Any) -> dict[str, Any] | None:
    """The fields `normalize_job` would return for a job it accepts, or None to have the
    full check decide. `rules` is an `engine.core.validate.JobRules`."""
    if type(name) is not str or not 0 < len(name) <= MAX_NAME or not _NAME(name):
        return None
    reserved = rules.reserved_env_prefixes
    if env is None:
        checked_env: dict[str, str] = {}
    elif type(env) is dict:
        for key, value in env.items():
            # An ASCII identifier is exactly `[A-Za-z_][A-Za-z0-9_]*`.
            if (type(key) is not str or type(value) is not str or not key.isascii()
                    or not key.isidentifier() or (reserved and key.startswith(reserved))
                    or key in FORBIDDEN_KEYS):
                return None
        checked_env = dict(env)
    else:
        return None
    if depends_on is None:
        deps: list[str] = []
    elif type(depends_on) is list:
        for dep in depends_on:
            if type(dep) is not str or not 0 < len(dep) <= MAX_NAME or not _NAME(dep):
                return None
        if len(set(depends_on)) != len(depends_on):
            return None
        deps = list(depends_on)
    else:
        return None
    if condition is None:
        condition = "all_success"
    elif type(condition) is not str or condition not in CONDITIONS:
        return None
    fields: dict[str, Any] = {"job_name": name, "env": checked_env, "depends_on": deps,
                              "condition": condition}
    for key in sorted(extra):
        kind = _SIMPLE.get(key)
        if kind is None:
            return None
        value = extra[key]
        if value is not None and not _plain_value(kind, value):
            return None
        fields[key] = value
    if (rules.max_priority is None and rules.max_timeout is None and not rules.allowed_images
            and not rules.allowed_source_urls):
        return fields if condition in rules.allowed_conditions else None
    try:
        rules.check(fields)
    except ValueError:  # the policy refuses the job: the full check words why
        return None
    return fields


def _plain_value(kind: str, value: Any) -> bool:
    if kind == "str":
        return type(value) is str
    if kind == "source_type":
        return type(value) is str and value in SOURCE_TYPES
    if type(value) is not int or not _INT64[0] <= value <= _INT64[1]:
        return False
    return kind == "int" or value > 0
