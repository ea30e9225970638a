"""`trigger_job` / `submit_job`: check each call at once and collect the jobs."""

from __future__ import annotations

import json

from engine.core.diagnostics import Diagnostic, Frame, Location
from engine.core.job_book import JobBook
from engine.core.starlark_text import callsite_column, parse_frames
from engine.core.validate import JobError, JobRules
from engine.core.workflows import WorkflowError
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.core.jobs import Job
    from engine.core.workflows import Declared


class JobCollector:
    """Receives every `trigger_job` call of one evaluation, in order."""

    def __init__(
        self,
        sources: dict[str, str],
        max_jobs: int,
        rules: JobRules | None = None,
        keep_fields: bool = True,
    ) -> None:
        """`keep_fields=False`: `jobs` keeps each job's name, place and workflow only;
        `on_job` is where the fields go."""
        self.sources = sources
        self.book = JobBook(rules, max_jobs, keep_fields=keep_fields)
        self._calls_per_line: dict[tuple[str, int], int] = {}
        # A call in a loop sends the same call-stack text every time: parsed once, and
        # each place (text, column) is one shared location and stack for all its jobs.
        self._frames: dict[str, tuple[Frame, ...]] = {}
        self._sites: dict[tuple[str, int], tuple[Location, tuple[Frame, ...]]] = {}
        # Set when a call is refused: the exact place and message, which the generic
        # error text (pointing into the prelude) cannot give.
        self.failure: Diagnostic | None = None
        # Told of every job accepted (the sandbox sends them on as they come).
        self.on_job: Callable[[Job], None] | None = None

    def emit(self, arguments: str) -> Any:
        """Called by the prelude's `trigger_job` with its arguments and its call stack's
        text as one JSON array.

        Returns the job name.
        """
        job_name, env, depends_on, condition, fields, call_stack = json.loads(arguments)
        if type(call_stack) is not str:
            call_stack = ""
        location, stack = self._site(call_stack)
        try:
            job = self.book.add(location, job_name, env, depends_on, condition, fields, stack)
        except JobError as err:
            self.failure = Diagnostic(location, str(err), stack=stack)
            raise BuiltinError(str(err)) from None
        if self.on_job is not None:
            self.on_job(job)
        return job.name

    @property
    def jobs(self) -> list[Job]:
        """The jobs triggered so far, in order (without their fields when the collector
        was made with `keep_fields=False`)."""
        return self.book.jobs

    @property
    def declared(self) -> Declared:
        """The workflows declared so far."""
        return self.book.declared

    def _site(self, call_stack: str) -> tuple[Location, tuple[Frame, ...]]:
        """Where the call is (its column found in the source) and its call stack."""
        parsed = self._frames.get(call_stack)
        if parsed is None:
            parsed = self._frames[call_stack] = tuple(parse_frames(call_stack, self.sources))
        if not parsed:
            return Location("<unknown>"), parsed
        last = parsed[-1]
        col = last.location.col
        if last.location.line > 0:
            key = (last.location.file, last.location.line)
            seen = self._calls_per_line.get(key, 0)
            self._calls_per_line[key] = seen + 1
            col = callsite_column(self.sources.get(key[0]), key[1], occurrence=seen)
        site = self._sites.get((call_stack, col))
        if site is None:
            location = Location(last.location.file, last.location.line, col)
            if last.location.line > 0:
                stack = (*parsed[:-1], Frame(location, last.function, last.source))
            else:
                stack = parsed
            site = self._sites[(call_stack, col)] = (location, stack)
        return site

    def declare_workflow(self, name: Any, vars: Any = None) -> str:
        """`workflow(name, vars = None)`."""
        try:
            return self.book.declare(name, vars)
        except WorkflowError as err:
            raise BuiltinError(f"workflow: {err}") from None
