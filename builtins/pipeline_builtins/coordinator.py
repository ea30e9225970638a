"""`is_job_running` and `get_job_result`, answered by a `JobState` capability."""

from __future__ import annotations

from engine.capabilities.base import CapabilityError
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import JobState


def coordinator_builtins(state: JobState) -> dict[str, Callable[..., Any]]:
    """Build the job-state builtins over a job-state source."""

    def is_job_running(job_name: str) -> bool:
        if not isinstance(job_name, str):
            raise BuiltinError("is_job_running: job_name must be a string")
        try:
            return bool(state.is_job_running(job_name))
        except CapabilityError as err:
            raise BuiltinError(f"is_job_running: {err}") from None

    def get_job_result(job_name: str) -> dict[str, Any] | None:
        if not isinstance(job_name, str):
            raise BuiltinError("get_job_result: job_name must be a string")
        try:
            return state.get_job_result(job_name)
        except CapabilityError as err:
            raise BuiltinError(f"get_job_result: {err}") from None

    return {"is_job_running": is_job_running, "get_job_result": get_job_result}
