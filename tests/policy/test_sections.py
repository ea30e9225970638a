"""Typed sections: every table of the schema is an attribute of the policy, with every
key in its kind's Python type, so that no caller reads raw values and casts them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from engine.core.diagnostics import UsageError
from engine.core.limits import Limits
from engine.core.validate import RESERVED_ENV_PREFIXES
from engine.policy import SCHEMA, combine, default_policy, load_policy
from engine.run.ingest import RunOptions
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


def test_run_options_limits_are_the_policy_the_run_records() -> None:
    options = RunOptions(limits=Limits(max_jobs=3, wall_seconds=2, kill_grace_seconds=9))
    assert options.policy.values["limits"]["max_jobs"] == 3
    assert options.policy.values["limits"]["wall_seconds"] == 2.0
    assert options.policy.limits == Limits(max_jobs=3, wall_seconds=2.0)
    assert options.limits.kill_grace_seconds == 9  # not a policy key: kept beside it
    assert options.policy.builtins == default_policy().builtins
    assert RunOptions().policy == default_policy()


def test_run_options_limits_keep_the_files_and_a_forks_tables(tmp_path: Path) -> None:
    path = tmp_path / "org.toml"
    path.write_text("[limits]\nmax_jobs = 100\n[fork_pr.limits]\nmax_jobs = 5\n",
                    encoding="utf-8")
    policy = load_policy([str(path)])

    limited = RunOptions(policy=policy, limits=Limits(max_jobs=3)).policy

    assert limited.limits.max_jobs == 3
    assert limited.files == (str(path),)
    assert limited.for_fork().limits.max_jobs == 3  # the fork's 5 does not loosen it
    assert RunOptions(policy=policy, limits=Limits(max_jobs=30)).policy.for_fork(
        ).limits.max_jobs == 5


def test_run_options_limits_are_checked_like_a_file() -> None:
    with pytest.raises(UsageError) as caught:
        RunOptions(limits=Limits(memory_mb=0))
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.location.file, diagnostic.message) == (
        "RunOptions.limits", "limits.memory_mb must be a positive integer, got the integer 0")
