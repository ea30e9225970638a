"""The job book of one `WorkflowContext`: every `trigger_job` call checked at once, with
the job rules and limits of a `pipeline.star` run, the workflows the script declared,
and the jobs not yet written."""

from __future__ import annotations

import threading

from engine.core.diagnostics import Diagnostic
from engine.core.jobs import Job
from engine.core.validate import JobError, normalize_job
from workflow.calls import plain
from workflow.errors import TriggerError
from workflow.messages import render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, NoReturn

    from engine.core.diagnostics import Location
    from engine.core.validate import JobRules


class JobBook:
    """The jobs a context triggered and the workflows it declared. A refused call is
    kept in `refused`, and then nothing may be written; `pending` holds the jobs since
    the last write. Hold `lock` to read or change them from several threads."""

    def __init__(self, rules: JobRules, max_jobs: int, context: Mapping[str, Any]) -> None:
        from engine.core.workflows import Declared

        self.rules = rules
        self.max_jobs = max_jobs
        self.context = context  # the environment's `ctx` values, for the jobs' defaults
        self.lock = threading.RLock()
        self.pending: list[Job] = []
        self.refused: list[Diagnostic] = []
        self.declared = Declared()
        self._by_name: dict[str, Job] = {}

    def trigger(self, location: Location, job_name: str, env: Any, depends_on: Any,
                condition: Any, fields: dict[str, Any]) -> Job:
        """Check one `trigger_job` call made at `location` and add its job; TriggerError
        (the refusal kept) naming the job and the broken rule."""
        with self.lock:
            try:
                limit = self.max_jobs
                if len(self._by_name) >= limit:
                    raise JobError(f"job {job_name!r}: job limit of {limit} jobs exceeded")
                extra = plain(fields)
                from engine.core.workflows import WorkflowError as NamingError

                try:
                    workflow = self.declared.check_use(extra.pop("workflow", None))
                except NamingError as err:
                    raise JobError(f"job {job_name!r}: {err}") from None
                normalized = normalize_job(
                    plain(job_name), plain(env), plain(depends_on), plain(condition),
                    extra, self.rules,
                )
                name: str = normalized["job_name"]
                first = self._by_name.get(name)
                if first is not None:
                    raise JobError(f'job "{name}" is triggered twice (first at {first.location})')
            except JobError as err:
                self._refuse(location, str(err))
            from engine.core.job_defaults import defaults_for, fill

            job = Job(name, fill(normalized, defaults_for(self.context)), location,
                      workflow=workflow)
            self.pending.append(job)
            self._by_name[name] = job
        return job

    def declare(self, location: Location, name: Any, vars: Any) -> str:
        """Check and record a workflow declared at `location`; return its name."""
        from engine.core.workflows import WorkflowError as NamingError

        with self.lock:
            try:
                return self.declared.declare(plain(name), plain(vars))
            except NamingError as err:
                self._refuse(location, f"workflow: {err}")

    def take(self) -> list[Job]:
        """The pending jobs, handed over once they are written."""
        with self.lock:
            taken, self.pending = self.pending, []
        return taken

    def _refuse(self, location: Location, text: str) -> NoReturn:
        problem = Diagnostic(location, text)
        self.refused.append(problem)
        raise TriggerError(render([problem]), [problem]) from None
