"""The workflow output file: the state a job hands back, merged with what is there and
replaced whole (the rules of its content: engine.core.workflow_state)."""

from __future__ import annotations

import json
import os

from engine.core.diagnostics import UsageError
from engine.core.workflow_state import MAX_OUTPUT_BYTES, SECTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def write(path: str, state: dict[str, dict[str, Any]]) -> None:
    """Merge `state` into the file at `path` and replace it atomically; UsageError (and
    the file untouched) when it is not a state document or the result exceeds 1 MiB."""
    from engine.triggers.file import locked, read_bytes, write_atomic

    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise UsageError(f"cannot create the directory of the workflow output file: "
                             f"{err.strerror}", path) from None
    with locked(path):
        raw = read_bytes(path)
        current: dict[str, Any] = {}
        if raw:
            try:
                current = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                current = None  # type: ignore[assignment]
            if not isinstance(current, dict) or any(
                    not isinstance(current.get(s, {}), dict) for s in SECTIONS):
                raise UsageError("the workflow output file holds something other than "
                                 '{"vars": {...}, "outputs": {...}}; it was left untouched',
                                 path)
        merged = dict(current)
        for section in SECTIONS:
            merged[section] = {**current.get(section, {}), **state.get(section, {})}
        data = (json.dumps(merged, indent=2, sort_keys=True, ensure_ascii=False)
                + "\n").encode("utf-8")
        if len(data) > MAX_OUTPUT_BYTES:
            raise UsageError(
                f"the workflow output would be {len(data)} bytes; the worker reads at most "
                f"{MAX_OUTPUT_BYTES} (1 MiB) and drops a larger file, so nothing was written",
                path)
        write_atomic(path, data)
