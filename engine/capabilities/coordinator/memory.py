"""A coordinator described by data: the `JobState` of pipeline test cases.

`python -m engine test` plugs it into the same services, sandbox and policy a real
ingest uses; nothing here opens a socket.
"""

from __future__ import annotations

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RESULT_KEYS = ("job_id", "name", "status", "exit_code", "started_at", "completed_at")


class StaticJobState:
    """`JobState` from fixed data: names running now, and the last finished job of each
    name. Every scope sees the same jobs. With `error`, every question fails with it."""

    def __init__(self, *, running: tuple[str, ...] = (),
                 results: dict[str, dict[str, Any]] | None = None,
                 error: str | None = None) -> None:
        self._running = frozenset(running)
        self._results = results or {}
        self._error = error

    def is_job_running(self, job_name: str, *scope: str) -> bool:
        if self._error is not None:
            raise CapabilityError(self._error)
        return job_name in self._running

    def get_job_result(self, job_name: str, *scope: str) -> dict[str, Any] | None:
        if self._error is not None:
            raise CapabilityError(self._error)
        found = self._results.get(job_name)
        if found is None:
            return None
        result: dict[str, Any] = dict.fromkeys(RESULT_KEYS)
        result.update(job_id=f"{job_name}-1", name=job_name, status="completed", exit_code=0)
        result.update(found)
        return result
