"""`is_job_running` and `get_job_result`, answered by a `JobState` capability."""

from __future__ import annotations

from engine.capabilities.base import CapabilityError
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import JobState

SCOPES = ("workflow", "project", "all")


def _question(builtin: str, job_name: Any, scope: Any) -> tuple[str, ...]:
    """The arguments to ask with; the scope only when the pipeline named one."""
    if not isinstance(job_name, str):
        raise BuiltinError(f"{builtin}: job_name must be a string")
    if scope is None:
        return (job_name,)
    if not isinstance(scope, str) or scope not in SCOPES:
        shown = f'"{scope}"' if isinstance(scope, str) else _a(type(scope).__name__)
        raise BuiltinError(
            f'{builtin}: scope must be "workflow", "project" or "all", not {shown}'
        )
    return (job_name, scope)


def coordinator_builtins(state: JobState) -> dict[str, Callable[..., Any]]:
    """Build the job-state builtins over a job-state source."""

    def is_job_running(job_name: str, scope: str | None = None) -> bool:
        """True when a job of that name is submitted, queued, running or cancelling.

        The coordinator is asked (`REACTORCIDE_COORDINATOR_URL`, `REACTORCIDE_API_TOKEN`,
        HTTPS only). `scope` says which jobs count: `"project"` (the default: every job
        of this job's project), `"workflow"` (this job's workflow) or `"all"` (every job
        the token may see; the default outside an ingest job). A coordinator that is not
        configured, refuses the token or cannot be reached is an error at the call, never
        `False`. Each distinct question is answered once per run.
        """
        asked = _question("is_job_running", job_name, scope)
        try:
            return bool(state.is_job_running(*asked))
        except CapabilityError as err:
            raise BuiltinError(f"is_job_running: {err}") from None

    def get_job_result(job_name: str, scope: str | None = None) -> dict[str, Any] | None:
        """The most recent finished job of that name, or `None`.

        `{"job_id", "name", "status", "exit_code", "started_at", "completed_at"}`;
        `status` is `completed`, `failed`, `cancelled` or `timeout`, and `exit_code` is
        `None` when the coordinator has none. "Most recent" is the latest `completed_at`,
        then `created_at`, then the larger `job_id`. `scope` and failures as for
        `is_job_running`.
        """
        asked = _question("get_job_result", job_name, scope)
        try:
            return state.get_job_result(*asked)
        except CapabilityError as err:
            raise BuiltinError(f"get_job_result: {err}") from None

    return {"is_job_running": is_job_running, "get_job_result": get_job_result}


def _a(name: str) -> str:
    return ("an " if name[:1] in ("a", "e", "i", "o", "u") else "a ") + name
