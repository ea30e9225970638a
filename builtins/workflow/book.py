"""The job book of one `WorkflowContext`: the engine's own job book (every
`trigger_job` call checked at once, in the words and with the rules and limits of a
`pipeline.star` run), the refusals kept, and the jobs not yet written."""

from __future__ import annotations

import threading

from engine.core.diagnostics import Diagnostic
from engine.core.job_book import JobBook
from engine.core.validate import JobError
from engine.core.workflows import WorkflowError
from workflow.calls import plain
from workflow.errors import TriggerError
from workflow.messages import render

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, NoReturn

    from engine.core.diagnostics import Location
    from engine.core.jobs import Job
    from engine.core.validate import JobRules
    from engine.core.workflows import Declared


class WorkflowBook:
    """The engine's job book for one context, plus what the Python API needs around it:
    a refused call is kept in `refused`, and then nothing may be written; `pending`
    holds the jobs since the last write. Hold `lock` to read or change them from several
    threads."""

    def __init__(self, rules: JobRules, max_jobs: int, context: Mapping[str, Any]) -> None:
        self.book = JobBook(rules, max_jobs, defaults_from=context)
        self.lock = threading.RLock()
        self.pending: list[Job] = []
        self.refused: list[Diagnostic] = []

    @property
    def declared(self) -> Declared:
        """The workflows declared so far."""
        return self.book.declared

    @property
    def rules(self) -> JobRules | None:
        """The job rules every trigger is checked against."""
        return self.book.rules

    def trigger(self, location: Location, job_name: str, env: Any, depends_on: Any,
                condition: Any, fields: dict[str, Any]) -> Job:
        """Check one `trigger_job` call made at `location` and add its job; TriggerError
        (the refusal kept) naming the job and the broken rule."""
        with self.lock:
            try:
                job = self.book.add(location, plain(job_name), plain(env), plain(depends_on),
                                    plain(condition), plain(fields))
            except JobError as err:
                self._refuse(location, str(err))
            self.pending.append(job)
        return job

    def declare(self, location: Location, name: Any, vars: Any) -> str:
        """Check and record a workflow declared at `location`; return its name."""
        with self.lock:
            try:
                return self.book.declare(plain(name), plain(vars))
            except WorkflowError as err:
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
