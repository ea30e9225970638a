"""The one-pass check of plain jobs agrees with the full check: whatever it accepts, the
full check accepts with the same fields; everything else is left to the full check."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core import plain_job, validate
from engine.core.validate import JobError, JobRules

DEFAULT = JobRules()
STRICT = JobRules(allowed_images=(("registry.example.com/*",),), max_priority=10,
                  max_timeout=600, allowed_conditions=("all_success", "always"))


def full_check(name: Any, env: Any, depends_on: Any, condition: Any, extra: dict[str, Any],
               rules: JobRules) -> dict[str, Any] | None:
    """What the full check alone decides (None: refused)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(validate, "plain_fields", lambda *args: None)
        try:
            return validate.normalize_job(name, env, depends_on, condition, dict(extra), rules)
        except JobError:
            return None


def agree(name: Any, env: Any, depends_on: Any, condition: Any, extra: dict[str, Any],
          rules: JobRules) -> dict[str, Any] | None:
    plain = plain_job.plain_fields(name, env, depends_on, condition, dict(extra), rules)
    if plain is not None:
        full = full_check(name, env, depends_on, condition, extra, rules)
        assert full == plain
        assert list(full) == list(plain)
    return plain


def test_the_patterns_are_the_full_checks() -> None:
    assert plain_job.NAME_RE.pattern == validate.JOB_NAME_RE.pattern
    assert plain_job.MAX_NAME == validate.MAX_JOB_NAME
    assert plain_job._INT64 == (validate.INT64_MIN, validate.INT64_MAX)


@pytest.mark.parametrize("key", ["A", "_x", "a1", "9a", "", "a-b", "é", "A\n", "if", "a b",
                                 "\uff21\uff22", "x" * 300])
def test_an_ascii_identifier_is_exactly_an_env_name(key: str) -> None:
    assert (key.isascii() and key.isidentifier()) == bool(validate.ENV_NAME_RE.match(key))


def test_a_matrix_job_takes_the_one_pass_check() -> None:
    fields = agree("test-os1-arch2-py3.9-4", {"OS": "os1", "SHARD": "4"}, ["build-os1"],
                   None, {"timeout": 1200, "container_image": "python:3"}, DEFAULT)
    assert fields is not None
    assert fields["condition"] == "all_success"


@pytest.mark.parametrize(("name", "env", "depends_on", "condition", "extra", "rules"), [
    ("ok", {"REACTORCIDE_TOKEN": "x"}, None, None, {}, DEFAULT),
    ("ok", {"org": "x"}, None, None, {}, DEFAULT),
    ("ok", {"A": 1}, None, None, {}, DEFAULT),
    ("ok", None, ["a", "a"], None, {}, DEFAULT),
    ("ok", None, ["../x"], None, {}, DEFAULT),
    ("../x", None, None, None, {}, DEFAULT),
    ("x" * 256, None, None, None, {}, DEFAULT),
    ("ok", None, None, "sometimes", {}, DEFAULT),
    ("ok", None, None, None, {"timeout": 0}, DEFAULT),
    ("ok", None, None, None, {"priority": 2**63}, DEFAULT),
    ("ok", None, None, None, {"priority": True}, DEFAULT),
    ("ok", None, None, None, {"job_file": "x.yaml"}, DEFAULT),
    ("ok", None, None, None, {"ci_origin": "x"}, DEFAULT),
    ("ok", None, None, None, {"source_type": "svn"}, DEFAULT),
    ("ok", None, None, None, {"capabilities": ["docker"]}, DEFAULT),
    ("ok", None, None, None, {"unknown": "x"}, DEFAULT),
    ("ok", None, None, None, {"container_image": "evil/miner"}, STRICT),
    ("ok", None, None, None, {"priority": 11}, STRICT),
    ("ok", None, None, "any_failed", {}, STRICT),
    # each rule of the policy on its own
    ("ok", None, None, None, {"priority": 11}, JobRules(max_priority=10)),
    ("ok", None, None, None, {"timeout": 601}, JobRules(max_timeout=600)),
    ("ok", None, None, None, {"container_image": "evil/miner"},
     JobRules(allowed_images=(("registry.example.com/*",),))),
    ("ok", None, None, None, {"source_url": "https://evil.example/x.git"},
     JobRules(allowed_source_urls=(("https://git.example.com/*",),))),
    ("ok", None, None, None, {}, JobRules(allowed_conditions=("always",))),
])
def test_what_it_does_not_accept_goes_to_the_full_check(
        name: Any, env: Any, depends_on: Any, condition: Any, extra: dict[str, Any],
        rules: JobRules) -> None:
    assert agree(name, env, depends_on, condition, extra, rules) is None


TEXT = st.text(alphabet=string.ascii_letters + string.digits + "_.-/ é", max_size=12)
VALUES = st.one_of(st.none(), TEXT, st.integers(min_value=-(2**64), max_value=2**64),
                   st.booleans(), st.lists(TEXT, max_size=3))


@settings(max_examples=400, deadline=None)
@given(name=TEXT, env=st.one_of(st.none(), st.dictionaries(TEXT, VALUES, max_size=3)),
       depends_on=st.one_of(st.none(), st.lists(TEXT, max_size=3)),
       condition=st.one_of(st.none(), st.sampled_from(["all_success", "always", "any_failed",
                                                       "maybe"])),
       extra=st.dictionaries(st.sampled_from(["timeout", "priority", "container_image",
                                              "source_type", "job_command", "job_file",
                                              "capabilities", "bogus"]), VALUES, max_size=3),
       strict=st.booleans())
def test_whatever_it_accepts_the_full_check_accepts_alike(
        name: str, env: Any, depends_on: Any, condition: Any, extra: dict[str, Any],
        strict: bool) -> None:
    agree(name, env, depends_on, condition, extra, STRICT if strict else DEFAULT)
