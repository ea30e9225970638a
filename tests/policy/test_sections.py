"""Typed sections: every table of the schema is an attribute of the policy, with every
key in its kind's Python type, so that no caller reads raw values and casts them."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from engine.core.validate import RESERVED_ENV_PREFIXES
from engine.policy import SCHEMA, combine
from tests.policy.test_layering import _POLICY_FILES, Settings

TYPES: dict[str, type] = {
    "positive number": float,
    "positive integer": int,
    "non-negative integer": int,
    "callstack": int,
    "integer": int,
    "boolean": bool,
    "one of: error, all_changed": str,
    "one of: ci, code": str,
    "list of builtin names": tuple,
    "list of strings": tuple,
    "list of conditions": tuple,
    "list of glob patterns": tuple,
}


@settings(max_examples=60, deadline=None)
@given(first=_POLICY_FILES, second=_POLICY_FILES)
def test_every_setting_reads_as_a_typed_attribute(first: Settings, second: Settings) -> None:
    policy = combine([("org.toml", first), ("team.toml", second)])
    for section, keys in SCHEMA.items():
        typed = getattr(policy, section)
        for name, key in keys.items():
            value: Any = getattr(typed, name)
            assert type(getattr(typed, name)) is TYPES[key.kind], (section, name, value)
            if (section, name) == ("jobs", "reserved_env_prefixes"):
                # The platform's own prefixes stay reserved whatever a file says.
                assert value[:len(RESERVED_ENV_PREFIXES)] == RESERVED_ENV_PREFIXES
                assert set(value) == {*RESERVED_ENV_PREFIXES, *policy.values[section][name]}
            else:
                assert value == policy.values[section][name], (section, name)

