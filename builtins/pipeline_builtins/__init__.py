"""Workflow functions injected into pipeline.star.

Each module here builds its builtins from one capability it is handed (a git source,
a job-state source, an output sink), never from the outside world directly. The
`Host` bundles those capabilities for one evaluation.
"""

from __future__ import annotations

import os

from engine.capabilities.base import CapabilityError
from engine.core.builtin_table import CONTEXT_KEYS, callable_name
from engine.core.builtin_table import PREDECLARED as PREDECLARED
from pipeline_builtins.coordinator import coordinator_builtins
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.git import git_builtins
from pipeline_builtins.output import output_builtins
from pipeline_builtins.workflow_state import WorkflowState, state_builtins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import GitSource, JobState, SourceReader
    from pipeline_builtins.jobs import JobCollector
    from pipeline_builtins.output import Output

    Builtin = Callable[..., Any]


def _disabled(name: str) -> Builtin:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise BuiltinError(f"{name} is disabled by the platform's policy (builtins.disabled)")

    return refuse


class Host:
    """The capabilities one evaluation may use, plus the collected jobs."""

    __slots__ = ("collector", "context", "disabled", "git", "job_state", "output", "sources",
                 "state")

    def __init__(self, git: GitSource, job_state: JobState, output: Output,
                 collector: JobCollector, context: dict[str, Any] | None = None,
                 disabled: tuple[str, ...] = (), sources: SourceReader | None = None) -> None:
        self.git = git
        self.job_state = job_state
        self.output = output
        self.collector = collector
        self.context = context or {}
        self.disabled = disabled
        self.sources = sources or NoSources()
        self.state = WorkflowState()

    def callables(self) -> dict[str, Builtin]:
        """The Python-implemented builtins, by the name the prelude binds them to.

        A builtin the policy disables stays visible (so the pipeline still resolves)
        but fails when called, saying why.
        """
        table: dict[str, Builtin] = {"_emit": self.collector.emit,
                                     "workflow": workflow_builtin(self.collector)}
        base = self.context.get("change_base")
        table.update(git_builtins(self.git, base if isinstance(base, str) else "HEAD^"))
        table.update(coordinator_builtins(self.job_state))
        table.update(output_builtins(self.output))
        table.update(state_builtins(self.state))
        for name in self.disabled:
            table[callable_name(name)] = _disabled(name)
        return table

    def context_values(self) -> dict[str, Any]:
        """`ctx` data fields; missing keys read as None (`vars` as an empty dict)."""
        values = {key: self.context.get(key) for key in CONTEXT_KEYS}
        if not isinstance(values["vars"], dict):
            values["vars"] = {}
        if not isinstance(values["pr"], dict):
            values["pr"] = None
        return values


def workflow_builtin(collector: JobCollector) -> Builtin:
    """`workflow` over one evaluation's jobs."""

    def workflow(name: str, vars: dict[str, Any] | None = None) -> str:
        """Declares a named workflow (a VCS check and a job graph of its own, with
        initial variables `vars`, any JSON values); returns its name.

        `trigger_job(..., workflow = name)` puts a job in it; jobs without `workflow` go
        to the default workflow. Names are unique in a run, and a job may only depend on
        jobs of its own workflow (each is its own graph on the coordinator).
        """
        return collector.declare_workflow(name, vars)

    return workflow


class NoSources:
    """No file may be loaded."""

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        raise CapabilityError(f"cannot load {module!r}: no source directory is available")


def prelude_source() -> str:
    """The Starlark half of the builtins."""
    path = os.path.join(os.path.dirname(__file__), "prelude.star")
    with open(path, encoding="utf-8") as handle:
        return handle.read()
