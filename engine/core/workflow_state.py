"""Workflow state a job hands back: `{"vars": {...}, "outputs": {...}}` in the file the
worker reads when the job ends (`RC_WF_OUTPUT_FILE`, default `/job/workflow-output.json`).

The worker reads at most 1 MiB of it and silently drops a larger file, and the
coordinator fails the workflow on invalid JSON, so the file is written whole or not at
all: merged with what is there, checked against the cap, replaced atomically.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_OUTPUT_FILE = "/job/workflow-output.json"
MAX_OUTPUT_BYTES = 1024 * 1024
SECTIONS = ("vars", "outputs")


class StateError(ValueError):
    """A key or value that cannot be handed to the coordinator."""


def check_entry(key: Any, value: Any) -> str:
    """The key when the entry can be stored: a non-empty string and a JSON value."""
    if not isinstance(key, str):
        raise StateError(f"the key must be a string, got {type(key).__name__}")
    if not key.strip():
        raise StateError("the key must not be empty (the coordinator skips empty keys)")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise StateError(f"the value of {key!r} is not JSON: {err}") from None
    return key.strip()


def check_state(state: Any) -> dict[str, dict[str, Any]]:
    """`{"vars": {...}, "outputs": {...}}` as received from the sandbox, checked again."""
    if state is None:
        return {"vars": {}, "outputs": {}}
    if not isinstance(state, dict) or set(state) - set(SECTIONS):
        raise StateError("malformed workflow state")
    out: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        entries = state.get(section) or {}
        if not isinstance(entries, dict):
            raise StateError("malformed workflow state")
        out[section] = {check_entry(k, v): v for k, v in entries.items()}
    return out


def is_empty(state: dict[str, dict[str, Any]]) -> bool:
    """Nothing was set."""
    return not any(state.get(section) for section in SECTIONS)
