"""Workflow variables and outputs a script sets, merged into the workflow output file
(`RC_WF_OUTPUT_FILE`) at once and atomically, with the checks of `pipeline.star`'s
`set_workflow_var` and `set_workflow_output`."""

from __future__ import annotations

import os

from engine.core.diagnostics import UsageError
from workflow.calls import plain
from workflow.errors import WorkflowError
from workflow.messages import render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def set_state(output_file: str | os.PathLike[str], section: str, key: str,
              value: Any) -> None:
    """Merge `key: value` into the file's `section` (`vars` or `outputs`); WorkflowError
    when the key or value cannot be stored or the file cannot be written."""
    from engine.core import workflow_state
    from engine.triggers import state_file

    try:
        checked = workflow_state.check_entry(key, plain(value))
        other = "outputs" if section == "vars" else "vars"
        state_file.write(os.fspath(output_file), {section: {checked: plain(value)}, other: {}})
    except workflow_state.StateError as err:
        raise WorkflowError(f"set_workflow_{section.removesuffix('s')}: {err}") from None
    except UsageError as failure:
        raise WorkflowError(render(failure.diagnostics), failure.diagnostics) from None
