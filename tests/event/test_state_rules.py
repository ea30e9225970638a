"""The rules for workflow state, in-process: an entry's key and value (checked as the
pipeline sets it) and the whole state as the parent receives it from the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.workflow_state import StateError, check_entry, check_state, is_empty
from tests.support.case_ids import case_id

# key, value, the key kept or the refusal's words
ENTRIES: list[tuple[Any, Any, str]] = [
    ("version", {"major": 1}, "version"),
    ("  padded  ", 1, "padded"),
    ("k", None, "k"),
    ("k", [1, "a", True], "k"),
    (1, "x", "the key must be a string, got int"),
    (None, "x", "the key must be a string, got NoneType"),
    ("", "x", "the key must not be empty (the coordinator skips empty keys)"),
    (" \t", "x", "the key must not be empty (the coordinator skips empty keys)"),
    ("k", float("nan"), "the value of 'k' is not JSON: Out of range float values are not "
                        "JSON compliant"),
    ("k", {1, 2}, "the value of 'k' is not JSON: Object of type set is not JSON "
                  "serializable"),
]


@pytest.mark.parametrize(("key", "value", "outcome"), ENTRIES,
                         ids=[case_id(f"{k!r}={v!r}") for k, v, _ in ENTRIES])
def test_an_entry_is_kept_under_its_trimmed_key_or_refused(key: Any, value: Any,
                                                           outcome: str) -> None:
    if outcome.startswith(("the key", "the value")):
        with pytest.raises(StateError) as raised:
            check_entry(key, value)
        assert str(raised.value) == outcome
    else:
        assert check_entry(key, value) == outcome


# the state as the sandbox sends it, and the state the parent keeps (None: refused)
STATES: dict[str, tuple[Any, dict[str, dict[str, Any]] | None]] = {
    "none": (None, {"vars": {}, "outputs": {}}),
    "empty": ({}, {"vars": {}, "outputs": {}}),
    "both sections": ({"vars": {" a ": 1}, "outputs": {"o": "x"}},
                      {"vars": {"a": 1}, "outputs": {"o": "x"}}),
    "a section null": ({"vars": None, "outputs": {"o": 1}}, {"vars": {}, "outputs": {"o": 1}}),
    "not an object": (["vars"], None),
    "another section": ({"vars": {}, "secrets": {}}, None),
    "a section not an object": ({"outputs": ["o"]}, None),
    "vars not an object": ({"vars": "x"}, None),
}


@pytest.mark.parametrize(("state", "kept"), STATES.values(), ids=STATES.keys())
def test_the_state_from_the_sandbox_is_checked_again(
    state: Any, kept: dict[str, dict[str, Any]] | None,
) -> None:
    if kept is None:
        with pytest.raises(StateError) as raised:
            check_state(state)
        assert str(raised.value) == "malformed workflow state"
    else:
        assert check_state(state) == kept


def test_a_bad_entry_in_the_state_is_refused_in_its_words() -> None:
    with pytest.raises(StateError) as raised:
        check_state({"outputs": {"": 1}})
    assert str(raised.value) == "the key must not be empty (the coordinator skips empty keys)"


@pytest.mark.parametrize(("state", "empty"), [
    ({"vars": {}, "outputs": {}}, True), ({}, True), ({"vars": {"a": 0}, "outputs": {}}, False),
    ({"vars": {}, "outputs": {"o": None}}, False)], ids=["nothing", "no sections", "a var",
                                                       "an output"])
def test_empty_means_nothing_was_set(state: dict[str, dict[str, Any]], empty: bool) -> None:
    assert is_empty(state) is empty
