"""Named workflows: a batch of jobs with its own graph, variables and VCS check.

`workflow(name, vars = None)` declares one; `trigger_job(..., workflow = name)` puts a
job in it, and jobs without it go to the default workflow. Each workflow is its own
graph on the coordinator, so a dependency across workflows would wait forever there: it
is an error here. With only the default workflow and no variables the document keeps
the plain `jobs` form; otherwise it uses the `workflows` form (authority fields left
empty, so the coordinator keeps the eval job's).
"""

from __future__ import annotations

import json

from engine.common.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.core.jobs import Job

MAX_NAME = 255


class WorkflowError(ValueError):
    """A workflow declaration or use the coordinator could not honour."""


class Declared(Record):
    """The workflows a run declared, in order: name -> vars."""

    __slots__ = ("vars",)

    def __init__(self, vars: dict[str, dict[str, Any]] | None = None) -> None:
        self.vars = vars or {}

    def declare(self, name: Any, variables: Any) -> str:
        """Check and record one declaration; return its name."""
        if not isinstance(name, str) or not name.strip():
            raise WorkflowError("workflow name must be a non-empty string")
        if len(name) > MAX_NAME:
            raise WorkflowError(f"workflow name is {len(name)} characters long; the limit "
                                f"is {MAX_NAME}")
        if name in self.vars:
            raise WorkflowError(f"workflow {name!r} is declared twice")
        if variables is None:
            variables = {}
        if not isinstance(variables, dict) or not all(isinstance(k, str) and k.strip()
                                                      for k in variables):
            raise WorkflowError("workflow vars must be a dict with non-empty string keys")
        try:
            json.dumps(variables, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise WorkflowError(f"workflow vars are not JSON: {err}") from None
        self.vars[name] = variables
        return name

    def check_use(self, name: Any) -> str | None:
        """The workflow a job names (None: the default one)."""
        if name is None:
            return None
        if not isinstance(name, str) or name not in self.vars:
            raise WorkflowError(f"workflow {name!r} is not declared: call "
                                f"workflow({json.dumps(name)}) before triggering jobs in it")
        return name

    def to_json(self) -> list[dict[str, Any]]:
        """`[{"name", "vars"}]` in declaration order."""
        return [{"name": n, "vars": v} for n, v in self.vars.items()]

    @classmethod
    def from_json(cls, data: Any) -> Declared:
        """Inverse of `to_json`, checking every declaration again."""
        declared = cls()
        if data is None:
            return declared
        if not isinstance(data, list):
            raise WorkflowError("malformed workflows")
        for item in data:
            if not isinstance(item, dict):
                raise WorkflowError("malformed workflows")
            declared.declare(item.get("name"), item.get("vars"))
        return declared

    def named_form(self, jobs: list[Job]) -> bool:
        """Whether the document needs the `workflows` form."""
        return any(job.workflow is not None for job in jobs) or any(
            self.vars.values())


def cross_workflow_problems(jobs: list[Job]) -> list[tuple[Job, str]]:
    """Dependencies between jobs of different workflows."""
    where = {job.name: job.workflow for job in jobs}
    problems = []
    for job in jobs:
        for dep in job.depends_on:
            if dep in where and where[dep] != job.workflow:
                problems.append((job, (
                    f'job "{job.name}" ({_label(job.workflow)}) depends on "{dep}" '
                    f"({_label(where[dep])}): each workflow is its own graph on the "
                    "coordinator, where this dependency would wait forever")))
    return problems


def _label(name: str | None) -> str:
    return "the default workflow" if name is None else f"workflow {name!r}"


def batches(declared: Declared, jobs: list[Job]) -> list[dict[str, Any]]:
    """The `workflows` list: the default workflow's jobs first (no name: the coordinator
    names it), then each declared workflow with jobs, in declaration order."""
    out: list[dict[str, Any]] = []
    default = [job.to_document() for job in jobs if job.workflow is None]
    if default:
        out.append({"jobs": default})
    for name, variables in declared.vars.items():
        members = [job.to_document() for job in jobs if job.workflow == name]
        if members:
            batch: dict[str, Any] = {"name": name}
            if variables:
                batch["vars"] = variables
            batch["jobs"] = members
            out.append(batch)
    return out
