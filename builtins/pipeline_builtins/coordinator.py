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
        shown = f'"{scope}"' if isinstance(scope, str) else f"a {type(scope).__name__}"
        raise BuiltinError(
            f'{builtin}: scope must be "workflow", "project" or "all", not {shown}'
        )
    return (job_name, scope)


def coordinator_builtins(state: JobState) -> dict[str, Callable[..., Any]]:
    """Build the job-state builtins over a job-state source."""

    def is_job_running(job_name: str, scope: str | None = None) -> bool:
        asked = _question("is_job_running", job_name, scope)
        try:
            return bool(state.is_job_running(*asked))
        except CapabilityError as err:
            raise BuiltinError(f"is_job_running: {err}") from None

    def get_job_result(job_name: str, scope: str | None = None) -> dict[str, Any] | None:
        asked = _question("get_job_result", job_name, scope)
        try:
            return state.get_job_result(*asked)
        except CapabilityError as err:
            raise BuiltinError(f"get_job_result: {err}") from None

    return {"is_job_running": is_job_running, "get_job_result": get_job_result}
