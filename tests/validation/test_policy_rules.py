"""The operator's job rules (JobRules.check), one rule at a time, with boundaries and the
exact words; and the rules as they travel to the sandbox and back."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.validate import DEFAULT_RULES, JobError, JobRules

RULES = JobRules(
    allowed_images=(("registry.example.com/*",), ("*/team/*", "*/base")),
    allowed_source_urls=(("https://git.example.com/*",),),
    allowed_conditions=("all_success", "always"),
    max_priority=10,
    max_timeout=3600,
    reserved_env_prefixes=("ORG_",),
)
OK: dict[str, Any] = {"condition": "all_success"}

CHECKS: list[tuple[dict[str, Any], str | None]] = [
    # fields (over OK), and the exact error (None: allowed)
    ({}, None),
    ({"condition": "always"}, None),
    ({"condition": "any_failed"},
     "condition 'any_failed' is not allowed by the policy (jobs.allowed_conditions)"),
    ({"priority": 10}, None),
    ({"priority": 11}, "priority 11 is above the policy's maximum of 10 (jobs.max_priority)"),
    ({"priority": -5}, None),
    ({"timeout": 3600}, None),
    ({"timeout": 3601},
     "timeout 3601 is above the policy's maximum of 3600 s (jobs.max_timeout)"),
    ({"container_image": "registry.example.com/team/app"}, None),
    ({"container_image": "registry.example.com/base"}, None),
    ({"container_image": "registry.example.com/other/app"},
     "container_image 'registry.example.com/other/app' is not allowed by the policy "
     "(jobs.allowed_images)"),
    ({"container_image": "evil.example/team/app"},
     "container_image 'evil.example/team/app' is not allowed by the policy "
     "(jobs.allowed_images)"),
    ({"source_url": "https://git.example.com/a.git"}, None),
    ({"ci_source_url": "https://git.example.com/ci.git"}, None),
    ({"source_url": "https://evil.example/a.git"},
     "source_url 'https://evil.example/a.git' is not allowed by the policy "
     "(jobs.allowed_source_urls)"),
    ({"ci_source_url": "https://evil.example/ci.git"},
     "ci_source_url 'https://evil.example/ci.git' is not allowed by the policy "
     "(jobs.allowed_source_urls)"),
    ({"condition": "any_failed", "priority": 99, "source_url": "x"},
     "condition 'any_failed' is not allowed by the policy (jobs.allowed_conditions); "
     "priority 99 is above the policy's maximum of 10 (jobs.max_priority); "
     "source_url 'x' is not allowed by the policy (jobs.allowed_source_urls)"),
]


@pytest.mark.parametrize(("fields", "message"), CHECKS, ids=[str(f) for f, _ in CHECKS])
def test_each_policy_rule(fields: dict[str, Any], message: str | None) -> None:
    if message is None:
        RULES.check({**OK, **fields})
        return
    with pytest.raises(JobError) as caught:
        RULES.check({**OK, **fields})
    assert str(caught.value) == message


def test_the_default_rules_allow_what_the_coordinator_accepts() -> None:
    for condition in ("all_success", "any_success", "any_failed", "always"):
        DEFAULT_RULES.check({"condition": condition, "priority": 2**31 - 1,
                             "timeout": 2**31 - 1, "container_image": "any/image",
                             "source_url": "file:///anything"})
    assert DEFAULT_RULES.reserved_env_prefixes == ("REACTORCIDE_", "RC_WF_")
    assert (DEFAULT_RULES.max_priority, DEFAULT_RULES.max_timeout) == (None, None)


def test_rules_travel_to_the_sandbox_and_back_unchanged() -> None:
    data = RULES.to_json()
    assert data == {
        "allowed_conditions": ("all_success", "always"),
        "allowed_images": (("registry.example.com/*",), ("*/team/*", "*/base")),
        "allowed_source_urls": (("https://git.example.com/*",),),
        "max_priority": 10,
        "max_timeout": 3600,
        "reserved_env_prefixes": ("ORG_",),
    }
    import json

    again = JobRules.from_json(json.loads(json.dumps(data)))
    assert again.to_json() == data
    for fields, message in CHECKS:
        if message is None:
            again.check({**OK, **fields})
        else:
            with pytest.raises(JobError):
                again.check({**OK, **fields})
