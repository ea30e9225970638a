"""The builtins a pipeline sees: the one table every list of them is derived from."""

from __future__ import annotations

# Every name a pipeline sees besides Starlark's own (fail, struct, json, ...).
PREDECLARED = (
    "trigger_job",
    "submit_job",
    "changed_files",
    "changes",
    "changes_include",
    "changes_only",
    "git_info",
    "is_job_running",
    "get_job_result",
    "log_next_job",
    "set_workflow_var",
    "set_workflow_output",
    "workflow",
    "print",
    "ctx",
)
