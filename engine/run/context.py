"""What a run knows about itself: the `ctx` values and the coordinator backend.

Shared by `python -m engine` and the Python workflow API (`workflow`), so that `ctx` and
the coordinator functions answer alike in both languages.
"""

from __future__ import annotations

from engine.run.event import EnvReading
from engine.run.inputs import read_context
from engine.sandbox.broker import DeferredJobState, UnconfiguredJobState

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from engine.capabilities.base import JobState


def context_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """`ctx` values from the environment, looked up as an ingest looks them up."""
    return read_context(EnvReading(env))


def complete_context(context: Mapping[str, Any],
                     info: Mapping[str, Any]) -> dict[str, Any]:
    """Fill a missing branch and commit from `info` (a `git_info()` answer) and derive a
    missing ref from the branch, else from the tag.

    The branch is filled only when the event could have one (a push, or no event): a
    tag or a pull request has none, whatever the checkout is on.
    """
    from engine.run.event import PUSH

    out = dict(context)
    if out.get("event") in (None, PUSH):
        out["branch"] = out.get("branch") or info.get("branch")
    out["commit"] = out.get("commit") or info.get("commit")
    if not out.get("ref") and out.get("event") in (None, PUSH):
        if out.get("branch"):
            out["ref"] = f"refs/heads/{out['branch']}"
        elif info.get("tag"):
            out["ref"] = f"refs/tags/{info['tag']}"
    if out.get("event") is None and not out.get("tag") and info.get("tag"):
        out["tag"] = info["tag"]
    return out


def job_state(
    coordinator_url: str | None,
    token: str | None,
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
