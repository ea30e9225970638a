"""Reactorcide's workflow API for Python ingest scripts, on the engine's core.

This runs **trusted code**: a Python script has no sandbox and can read every secret,
file and network address the ingest job can. Run code from branches or forks only as
`pipeline.star` (`python -m engine`), which is sandboxed. See docs/migration.md.

The module-level functions act on the innermost open `workflow_context()` block's
context, else on one process-wide `WorkflowContext()`.
"""

from __future__ import annotations

from workflow.active import current_context, workflow_context
from workflow.context import WorkflowContext
from workflow.errors import TriggerError, WorkflowError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = [
    "TriggerError",
    "WorkflowContext",
    "WorkflowError",
    "changed_files",
    "current_context",
    "flush_triggers",
    "get_job_result",
    "git_info",
    "is_job_running",
    "log_next_job",
    "set_workflow_output",
    "set_workflow_var",
    "submit_job",
    "trigger_job",
    "workflow",
    "workflow_context",
    "workflow_vars",
]


def trigger_job(
    job_name: str,
    env: Mapping[str, str] | None = None,
    depends_on: Sequence[str] | None = None,
    condition: str = "all_success",
    **fields: Any,
) -> str:
    """Add a job to the current context; return its name. See `WorkflowContext`."""
    return current_context().trigger_job(job_name, env, depends_on, condition, **fields)


submit_job = trigger_job  # the guide's older name for the same function


def flush_triggers() -> None:
    """Append the current context's new jobs to its triggers file."""
    current_context().flush_triggers()


def changed_files(
    from_ref: str | None = None,
    to_ref: str | None = None,
    base_dir: str | os.PathLike[str] | None = None,
) -> list[str]:
    """Paths changed between two refs (default: the last commit, or what a pull request
    changed); `base_dir` defaults to the source directory."""
    return current_context().changed_files(from_ref, to_ref, base_dir)


def git_info(base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """`branch`, `commit`, `short_commit`, `tag`, `remote_url` of the checkout."""
    return current_context().git_info(base_dir)


def is_job_running(job_name: str) -> bool:
    """Whether the coordinator has a job of that name in flight."""
    return current_context().is_job_running(job_name)


def get_job_result(job_name: str) -> dict[str, Any] | None:
    """The most recent finished job of that name, or None."""
    return current_context().get_job_result(job_name)


def log_next_job(job_name: str, reason: str = "") -> None:
    """Say on stderr which job should run next."""
    current_context().log_next_job(job_name, reason)


def workflow_vars() -> dict[str, Any]:
    """The workflow's variables (`RC_WF_VARS_JSON`, else the file `RC_WF_VARS_FILE`)."""
    return current_context().workflow_vars()


def set_workflow_var(key: str, value: Any) -> None:
    """Set a workflow variable in the workflow output file (`RC_WF_OUTPUT_FILE`)."""
    current_context().set_workflow_var(key, value)


def set_workflow_output(key: str, value: Any) -> None:
    """Record an output of this job in the workflow output file (`RC_WF_OUTPUT_FILE`)."""
    current_context().set_workflow_output(key, value)


def workflow(name: str, vars: Mapping[str, Any] | None = None) -> str:
    """Declare a named workflow in the current context. See `WorkflowContext.workflow`."""
    return current_context().workflow(name, vars)
