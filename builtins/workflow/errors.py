"""The exceptions of the workflow API."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.diagnostics import Diagnostic


class WorkflowError(Exception):
    """A workflow function could not do what was asked; the message says why.

    `diagnostics` holds the problems one by one, each with its location when known.
    """

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message)
        self.diagnostics = list(diagnostics or [])


class TriggerError(WorkflowError, ValueError):
    """A trigger was refused. The message names the job and the script line that created
    it; the context then writes nothing, at any later flush either."""
