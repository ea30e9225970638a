"""`trigger_job` / `submit_job`: check each call at once and collect the jobs."""

from __future__ import annotations

import json

from engine.core.diagnostics import Diagnostic, Frame, Location
from engine.core.jobs import Job
from engine.core.starlark_text import callsite_column, parse_frames
from engine.core.validate import JobError, JobRules, normalize_job
from engine.core.workflows import Declared, WorkflowError
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class JobCollector:
    """Receives every `trigger_job` call of one evaluation, in order."""

    def __init__(
        self,
        sources: dict[str, str],
        max_jobs: int,
        rules: JobRules | None = None,
    ) -> None:
        self.sources = sources
        self.max_jobs = max_jobs
        self.rules = rules
        self.jobs: list[Job] = []
        self._by_name: dict[str, Job] = {}
        self._calls_per_line: dict[tuple[str, int], int] = {}
        # A call in a loop sends the same call-stack text every time: parsed once, and
        # each place (text, column) is one shared location and stack for all its jobs.
        self._frames: dict[str, tuple[Frame, ...]] = {}
        self._sites: dict[tuple[str, int], tuple[Location, tuple[Frame, ...]]] = {}
        self.declared = Declared()
        # Set when a call is refused: the exact place and message, which the generic
        # error text (pointing into the prelude) cannot give.
        self.failure: Diagnostic | None = None

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
            if len(self.jobs) >= self.max_jobs:
                raise JobError(f"job limit of {self.max_jobs} jobs exceeded")
            extra = dict(fields) if isinstance(fields, dict) else {}
            try:
                workflow = self.declared.check_use(extra.pop("workflow", None))
            except WorkflowError as err:
                raise JobError(f'job "{job_name}": {err}') from None
            normalized = normalize_job(
                job_name, env, depends_on, condition, extra, self.rules
            )
            name = normalized["job_name"]
            first = self._by_name.get(name)
            if first is not None:
                raise JobError(f'job "{name}" is triggered twice (first at {first.location})')
        except JobError as err:
            self.failure = Diagnostic(location, str(err), stack=stack)
            raise BuiltinError(str(err)) from None
        job = Job(name, normalized, location, stack, workflow)
        self.jobs.append(job)
        self._by_name[name] = job
        return name

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
            return self.declared.declare(name, vars)
        except WorkflowError as err:
            raise BuiltinError(f"workflow: {err}") from None
