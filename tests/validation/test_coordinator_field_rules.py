"""The coordinator's field rules in-process, each refusal in its exact words, each
acceptance at the edge of its rule (engine/core/coordinator_rules.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.core import coordinator_rules as rules
from engine.core.diagnostics import Location
from engine.core.jobs import Job

R = 'resources["cpu"]["limit"]'
M = 'resources["memory"]["limit"]'
SHAPE = 'the shape is {"cpu": {"request": Q, "limit": Q}, "memory": {"limit": Q}}'
SECRET = ("is not a valid secret name (lower-case letters, digits, '-' and '.', starting "
          "and ending with a letter or digit)")

# (the check, the value, its exact refusal or None when it is accepted)
CASES: dict[str, tuple[Callable[[Any], None], Any, str | None]] = {
    "job_file": (rules.check_job_file, "run.sh",
                 "job_file is refused: the coordinator cannot read files from the "
                 "submission (its API answers 400); give the command as job_command"),
    "characteristics: strings and bools": (
        rules.check_characteristics, {"os": "linux", "gpu": True, "x": False}, None),
    "characteristics: an empty key": (
        rules.check_characteristics, {"os": "linux", "": "x"},
        "characteristics keys must not be empty"),
    "characteristics: an int": (
        rules.check_characteristics, {"cores": 8},
        "characteristics['cores'] must be a string or a bool, got int (the coordinator "
        'refuses numbers here; write "8")'),
    "characteristics: a float": (
        rules.check_characteristics, {"ram": 1.5},
        "characteristics['ram'] must be a string or a bool, got float (the coordinator "
        'refuses numbers here; write "1.5")'),
    "characteristics: None": (
        rules.check_characteristics, {"zone": None},
        "characteristics['zone'] must be a string or a bool, got None (the coordinator "
        "refuses numbers here; write a string)"),
    "characteristics: a list": (
        rules.check_characteristics, {"tags": ["a"]},
        "characteristics['tags'] must be a string or a bool, got list (the coordinator "
        "refuses numbers here; write a string)"),
    "resources: the whole shape": (
        rules.check_resources, {"cpu": {"request": "500m", "limit": 2},
                                "memory": {"limit": "4Gi"}}, None),
    "resources: an unknown group": (
        rules.check_resources, {"gpu": {"limit": 1}},
        f"resources key 'gpu' is not one of cpu, memory ({SHAPE})"),
    "resources: the flat form": (
        rules.check_resources, {"cpu": "2"},
        "resources[\"cpu\"] must be a dict with 'request' and 'limit', got str (the "
        "coordinator refuses the flat form)"),
    "resources: memory flat": (
        rules.check_resources, {"memory": 4},
        "resources[\"memory\"] must be a dict with 'limit', got int (the coordinator "
        "refuses the flat form)"),
    "resources: an unknown cpu key": (
        rules.check_resources, {"cpu": {"max": 1}},
        "resources[\"cpu\"] key 'max' is not one of request, limit"),
    "resources: a memory request": (
        rules.check_resources, {"memory": {"request": "1Gi"}},
        "resources[\"memory\"] key 'request' is not one of limit (the coordinator takes "
        "no memory request)"),
    "resources: a cpu quantity checked": (
        rules.check_resources, {"cpu": {"limit": "two"}},
        f"{R} 'two' is not a CPU quantity: cores (2, 1.5) or whole millicores (500m)"),
    "quantity: a bool": (rules.check_resources, {"cpu": {"limit": True}},
                         f"{R} must be a string or a number"),
    "quantity: None": (rules.check_resources, {"cpu": {"limit": None}},
                       f"{R} must be a string or a number"),
    "quantity: infinite": (rules.check_resources, {"cpu": {"limit": float("inf")}},
                           f"{R} must be a finite number"),
    "quantity: not a number": (rules.check_resources, {"cpu": {"limit": float("nan")}},
                               f"{R} must be a finite number"),
    "quantity: the largest int64": (rules.check_resources, {"cpu": {"limit": 2**63 - 1}},
                                    None),
    "quantity: past int64": (
        rules.check_resources, {"cpu": {"limit": 2**63}},
        f"{R} is outside the 64-bit integer range the coordinator decodes"),
    "quantity: below int64": (
        rules.check_resources, {"cpu": {"limit": -(2**63) - 1}},
        f"{R} is outside the 64-bit integer range the coordinator decodes"),
    "quantity: negative": (rules.check_resources, {"cpu": {"limit": -1}},
                           f"{R} must not be negative"),
    "quantity: negative float": (rules.check_resources, {"cpu": {"limit": -0.5}},
                                 f"{R} must not be negative"),
    "quantity: the smallest int64": (rules.check_resources, {"cpu": {"limit": -(2**63)}},
                                     f"{R} must not be negative"),
    "quantity: a small negative int": (rules.check_resources, {"cpu": {"limit": -200}},
                                       f"{R} must not be negative"),
    "quantity: zero": (rules.check_resources, {"cpu": {"limit": 0}}, None),
    "cpu: millicores": (rules.check_resources, {"cpu": {"limit": "250m"}}, None),
    "cpu: decimal": (rules.check_resources, {"cpu": {"limit": "1.5"}}, None),
    "cpu: leading dot": (rules.check_resources, {"cpu": {"limit": ".5"}}, None),
    "cpu: exponent": (rules.check_resources, {"cpu": {"limit": "1e3"}}, None),
    "cpu: a fraction of a millicore": (
        rules.check_resources, {"cpu": {"limit": "1.5m"}},
        f"{R} '1.5m' is not a CPU quantity: cores (2, 1.5) or whole millicores (500m)"),
    "cpu: text after": (
        rules.check_resources, {"cpu": {"limit": "2 cores"}},
        f"{R} '2 cores' is not a CPU quantity: cores (2, 1.5) or whole millicores (500m)"),
    "cpu: a float": (rules.check_resources, {"cpu": {"limit": 0.25}}, None),
    "memory: suffixes": (rules.check_resources, {"memory": {"limit": "512Mi"}}, None),
    "memory: decimal suffix and B": (rules.check_resources, {"memory": {"limit": "4GB"}},
                                     None),
    "memory: bytes": (rules.check_resources, {"memory": {"limit": "1048576"}}, None),
    "memory: a whole float": (rules.check_resources, {"memory": {"limit": 1024.0}}, None),
    "memory: a fraction of a byte": (
        rules.check_resources, {"memory": {"limit": 1.5}},
        f"{M} 1.5 is not a whole number of bytes"),
    "memory: millicores": (
        rules.check_resources, {"memory": {"limit": "500m"}},
        f"{M} '500m' is not a memory quantity: a whole number with Ki, Mi, Gi, Ti or Pi, "
        "or K, M, G, T, P (optionally followed by B), e.g. 4Gi or 512Mi"),
    "memory: text after": (
        rules.check_resources, {"memory": {"limit": "4Gi "}},
        f"{M} '4Gi ' is not a memory quantity: a whole number with Ki, Mi, Gi, Ti or Pi, "
        "or K, M, G, T, P (optionally followed by B), e.g. 4Gi or 512Mi"),
    "pull secrets: valid": (rules.check_image_pull_secrets,
                            ["regcred", "a.b-c", "x" * 253], None),
    "pull secrets: empty": (rules.check_image_pull_secrets, ["ok", ""],
                            "image_pull_secrets names must not be empty"),
    "pull secrets: too long": (
        rules.check_image_pull_secrets, ["x" * 254],
        "image_pull_secrets name is 254 characters long; the limit is 253"),
    "pull secrets: upper case": (rules.check_image_pull_secrets, ["RegCred"],
                                 f"image_pull_secrets name 'RegCred' {SECRET}"),
    "pull secrets: a trailing dash": (rules.check_image_pull_secrets, ["cred-"],
                                      f"image_pull_secrets name 'cred-' {SECRET}"),
    "pull secrets: twice": (rules.check_image_pull_secrets, ["a", "b", "a"],
                            "image_pull_secrets lists 'a' twice"),
    "for_each: text, bools, small numbers": (
        rules.check_for_each, ["a", True, 0, 999_999, -999_999], None),
    "for_each: not a list": (rules.check_for_each, {"a": 1},
                             "for_each must be a list, got dict"),
    "for_each: a million": (
        rules.check_for_each, [1_000_000],
        "for_each item 1000000 would reach the job as '1e+06' (the coordinator prints "
        'numbers in exponent form); pass it as a string: "1000000"'),
    "for_each: a negative million and a half": (
        rules.check_for_each, [-1_500_000],
        "for_each item -1500000 would reach the job as '-1.5e+06' (the coordinator prints "
        'numbers in exponent form); pass it as a string: "-1500000"'),
    "for_each: digits kept": (
        rules.check_for_each, [123_456_789],
        "for_each item 123456789 would reach the job as '1.23456789e+08' (the coordinator "
        'prints numbers in exponent form); pass it as a string: "123456789"'),
    "for_each: a float after a number": (
        rules.check_for_each, [5, 1.5],
        "for_each item 1.5 is refused: the coordinator passes items to the job as text; "
        "pass strings (json.encode(x) for a structure)"),
    "for_each: a float": (
        rules.check_for_each, ["a", 1.5],
        "for_each item 1.5 is refused: the coordinator passes items to the job as text; "
        "pass strings (json.encode(x) for a structure)"),
    "for_each: None": (
        rules.check_for_each, [None],
        "for_each item None is refused: the coordinator passes items to the job as text; "
        "pass strings (json.encode(x) for a structure)"),
    "for_each: a map": (
        rules.check_for_each, [{"k": "v"}],
        "for_each item dict is refused: the coordinator passes items to the job as text; "
        "pass strings (json.encode(x) for a structure)"),
}


@pytest.mark.parametrize(("check", "value", "refusal"), CASES.values(), ids=CASES.keys())
def test_each_rule_in_its_words(check: Callable[[Any], None], value: Any,
                                refusal: str | None) -> None:
    if refusal is None:
        check(value)
        return
    with pytest.raises(rules.RuleError) as caught:
        check(value)
    assert str(caught.value) == refusal


FORBIDDEN: list[tuple[Any, str | None]] = [
    ({"env": {"A": "1"}, "list": [1, {"x": 2}]}, None),
    ({"org": 1}, "'org'"),
    ({"env": {"org_id": "x"}}, "'env'['org_id']"),
    ({"a": [{"b": 1}, {"organization": 2}]}, "'a'[1]['organization']"),
    ([{"ok": 1}, [{"org": 1}]], "[1][0]['org']"),
    ({"a": {"b": 1}, "c": {"org": 1}}, "'c'['org']"),
    ("org", None),
]


@pytest.mark.parametrize(("value", "path"), FORBIDDEN)
def test_a_forbidden_key_is_found_at_its_first_place(value: Any, path: str | None) -> None:
    assert rules.forbidden_key_path(value) == path


def _job(name: str, **fields: Any) -> Job:
    return Job(name, {"job_name": name, **fields}, Location("p.star", 1, 1))


def test_the_fields_the_coordinator_replaces_are_warned_about_in_order() -> None:
    job = _job("a", ci_source_ref="r", worker_class="gpu", ci_source_url=None)
    assert rules.replaced_field_warnings(job) == [
        'job "a": worker_class is replaced by the coordinator with the workflow\'s value; '
        "this setting has no effect",
        'job "a": ci_source_ref is replaced by the coordinator with the workflow\'s value; '
        "this setting has no effect"]
    assert rules.replaced_field_warnings(_job("b")) == []


def test_a_job_without_a_command_is_warned_about() -> None:
    assert rules.missing_command_warning(_job("a", job_command="make")) is None
    warning = ('job "{}" has no job_command: the coordinator does not inherit one, so the '
               "job would run the image's default command")
    assert rules.missing_command_warning(_job("b")) == warning.format("b")
    assert rules.missing_command_warning(_job("c", job_command="")) == warning.format("c")


# Go's %v of a float64 holding a whole number, as the coordinator prints for_each items.
GO_FORMAT = [(0, "0"), (999_999, "999999"), (-999_999, "-999999"), (1_000_000, "1e+06"),
             (-1_000_000, "-1e+06"), (1_500_000, "1.5e+06"), (123_456_789, "1.23456789e+08"),
             (10**16, "1e+16"), (12 * 10**20, "1.2e+21")]


@pytest.mark.parametrize(("number", "shown"), GO_FORMAT)
def test_numbers_are_shown_as_the_coordinator_prints_them(number: int, shown: str) -> None:
    assert rules._go_format(number) == shown

