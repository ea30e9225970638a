"""The coordinator backend of a run: built on first use, or refusing every question.

Shared by `python -m engine` and the Python workflow API, so that the coordinator
functions answer alike in both languages.
"""

from __future__ import annotations

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import JobState
    from engine.common.secret import Secret


class UnconfiguredJobState:
    """Job-state lookups when no coordinator is configured: a clear error, never False."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def is_job_running(self, job_name: str, *scope: str) -> bool:
        raise CapabilityError(self.reason)

    def get_job_result(self, job_name: str, *scope: str) -> dict[str, Any] | None:
        raise CapabilityError(self.reason)


class DeferredJobState:
    """A job-state backend built on first use, so that a run that never asks the
    coordinator never loads the HTTP client; a refused configuration surfaces as the
    first call's error, at the caller's line."""

    def __init__(self, build: Callable[[], JobState]) -> None:
        self._build = build
        self._backend: JobState | None = None

    def _get(self) -> JobState:
        if self._backend is None:
            self._backend = self._build()
        return self._backend

    # `scope` is forwarded only when the pipeline named one (see JobState).
    def is_job_running(self, job_name: str, *scope: str) -> bool:
        return self._get().is_job_running(job_name, *scope)

    def get_job_result(self, job_name: str, *scope: str) -> dict[str, Any] | None:
        return self._get().get_job_result(job_name, *scope)


def job_state(
    coordinator_url: str | None,
    token: Secret | None,
    *,
    allow_insecure_transport: bool = False,
    workflow_id: str | None = None,
    job_id: str | None = None,
    wall_seconds: float | None = None,
) -> JobState:
    """The coordinator backend (built on first use), or one whose every answer is an error
    saying which setting is missing.

    `workflow_id` and `job_id` scope the questions (see `HttpJobState`). With
    `wall_seconds` (the run's wall-clock limit) the requests get a time budget that
    leaves the run room within it, counted from this call (the start of the run);
    without, the client's default budget.
    """
    import time

    started = time.monotonic()
    if not coordinator_url:
        return UnconfiguredJobState(
            "the coordinator is not configured: REACTORCIDE_COORDINATOR_URL is not set"
        )
    if not token:
        return UnconfiguredJobState(
            "the coordinator is not configured: REACTORCIDE_API_TOKEN is not set"
        )
    url, secret = coordinator_url, token

    def build() -> JobState:
        from engine.capabilities.coordinator.http import HttpJobState, budget_for

        if wall_seconds is None:
            return HttpJobState(url, secret, allow_insecure_transport=allow_insecure_transport,
                                workflow_id=workflow_id, job_id=job_id)
        return HttpJobState(url, secret, allow_insecure_transport=allow_insecure_transport,
                            workflow_id=workflow_id, job_id=job_id,
                            budget_seconds=budget_for(wall_seconds), started=started)

    return DeferredJobState(build)
