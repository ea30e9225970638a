"""`set_workflow_var` and `set_workflow_output`: state the run hands to its workflow.

The values are collected here and returned with the jobs; the parent writes them to
the workflow output file only when the whole run succeeds.
"""

from __future__ import annotations

from engine.core.workflow_state import StateError, check_entry
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class WorkflowState:
    """The variables and outputs one evaluation set, in the order set."""

    def __init__(self) -> None:
        self.vars: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}

    def to_json(self) -> dict[str, dict[str, Any]]:
        """`{"vars": ..., "outputs": ...}`."""
        return {"vars": self.vars, "outputs": self.outputs}


def state_builtins(state: WorkflowState) -> dict[str, Callable[..., Any]]:
    """The two builtins over one state."""

    def set_workflow_var(key: str, value: Any) -> None:
        """Sets a variable of the workflow this job belongs to; the jobs that start after
        this one read it in `ctx.vars`.

        `value` is any JSON value. Written, with the outputs, to the workflow output file
        (`RC_WF_OUTPUT_FILE`) when the run succeeds. Another job of the workflow setting
        the same key to a different value makes the coordinator fail the workflow.
        """
        try:
            state.vars[check_entry(key, value)] = value
        except StateError as err:
            raise BuiltinError(f"set_workflow_var: {err}") from None

    def set_workflow_output(key: str, value: Any) -> None:
        """Records an output of this job; the coordinator stores it as
        `<job name>.<key>` in the workflow's variables. `value` is any JSON value."""
        try:
            state.outputs[check_entry(key, value)] = value
        except StateError as err:
            raise BuiltinError(f"set_workflow_output: {err}") from None

    return {"set_workflow_var": set_workflow_var,
            "set_workflow_output": set_workflow_output}
