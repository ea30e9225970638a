"""The job book of one run: every trigger checked as it is made, in one place for the
Starlark `trigger_job` and the Python `WorkflowContext.trigger_job` alike.

A trigger is refused (JobError, the broken rule in the same words for both) when the job
limit is reached, when it names a workflow not declared, when the job breaks the
coordinator's or the operator's rules, or when its name was triggered before.
"""

from __future__ import annotations

from engine.core.jobs import Job
from engine.core.validate import JobError, normalize_job
from engine.core.workflows import Declared, WorkflowError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from engine.core.diagnostics import Frame, Location
    from engine.core.validate import JobRules


class JobBook:
    """The jobs triggered so far, in order, and the workflows declared."""

    def __init__(self, rules: JobRules | None, max_jobs: int,
                 defaults_from: Mapping[str, Any] | None = None,
                 keep_fields: bool = True) -> None:
        self.rules = rules
        self.max_jobs = max_jobs
        # False: the book remembers each job's name, place and workflow, not its fields,
        # which the caller takes away (the sandbox sends them on as jobs are made, and a
        # large matrix would otherwise hold every job's fields until the end).
        self.keep_fields = keep_fields
        # The `ctx` values a job's unset fields are filled from, when the book fills them
        # (the Python API writes its own files); None: left to the writer.
        self.defaults_from = defaults_from
        self.jobs: list[Job] = []
        self.declared = Declared()
        self._by_name: dict[str, Job] = {}

    def add(self, location: Location, job_name: Any, env: Any, depends_on: Any,
            condition: Any, fields: Any, stack: tuple[Frame, ...] = ()) -> Job:
        """Check one trigger made at `location` and add its job; JobError naming the
        broken rule."""
        if len(self.jobs) >= self.max_jobs:
            raise JobError(f"job limit of {self.max_jobs} jobs exceeded")
        extra = dict(fields) if isinstance(fields, dict) else {}
        try:
            workflow = self.declared.check_use(extra.pop("workflow", None))
        except WorkflowError as err:
            raise JobError(f'job "{job_name}": {err}') from None
        normalized = normalize_job(job_name, env, depends_on, condition, extra, self.rules)
        name: str = normalized["job_name"]
        first = self._by_name.get(name)
        if first is not None:
            raise JobError(f'job "{name}" is triggered twice (first at {first.location})')
        if self.defaults_from is not None:
            from engine.core.job_defaults import defaults_for, fill

            normalized = fill(normalized, defaults_for(self.defaults_from))
        job = Job(name, normalized, location, stack, workflow)
        kept = job if self.keep_fields else Job(name, {}, location, stack, workflow)
        self.jobs.append(kept)
        self._by_name[name] = kept
        return job

    def declare(self, name: Any, vars: Any) -> str:
        """Record a declared workflow; its name (WorkflowError saying what is wrong)."""
        return self.declared.declare(name, vars)
