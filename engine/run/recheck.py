"""The parent's re-check of what the sandbox returned: every job rebuilt and checked
again against the rules and the policy, as if the child had lied."""

from __future__ import annotations

from engine.core.diagnostics import Diagnostic, Frame, Location, PipelineFailed
from engine.core.jobs import Job
from engine.core.validate import JobError, normalize_document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.core.limits import Limits
    from engine.core.validate import JobRules
    from engine.core.workflows import Declared


def result_from_child(message: dict[str, Any], limits: Limits, rules: JobRules, where: str,
                      intake: JobIntake | None = None,
                      ) -> tuple[list[Job], dict[str, dict[str, Any]], Declared]:
    """The jobs, workflow state and named workflows of the sandbox's result, each checked
    again; PipelineFailed with the pipeline's problems, or when the reply is not a result.

    `intake` holds the slices of jobs the child sent before its result (the result
    holds the rest)."""
    from engine.core.workflow_state import StateError, check_state
    from engine.core.workflows import Declared, WorkflowError

    at = Location(where)
    if message.get("type") != "result" or not isinstance(message.get("jobs"), list):
        raise PipelineFailed([Diagnostic(at, "the sandbox returned no result")])
    try:
        declared = Declared.from_json(message.get("workflows"))
    except WorkflowError as err:
        raise PipelineFailed([Diagnostic(at, f"the sandbox returned {err}")]) from None
    intake = intake or JobIntake(limits, rules, where)
    intake.take(message)
    jobs = intake.finish(declared)
    try:
        state = check_state(message.get("workflow_state"))
    except StateError as err:
        raise PipelineFailed([Diagnostic(at, f"the sandbox returned {err}")]) from None
    return jobs, state, declared


def diagnostics_from_child(items: Any, where: str, fit: Callable[[str], str],
                           what: str = "failure") -> list[Diagnostic]:
    """The diagnostics of the sandbox's failure, rebuilt, each message passed through
    `fit`; PipelineFailed at the pipeline when the reply holds none or a malformed one.

    `what="check"`: the diagnostics of a `check`, where none at all is a clean result."""
    malformed = PipelineFailed(
        [Diagnostic(Location(where), f"the sandbox returned a malformed {what}")])
    if not isinstance(items, list) or (not items and what == "failure"):
        raise malformed
    diagnostics: list[Diagnostic] = []
    for item in items:
        if not (isinstance(item, dict) and isinstance(item.get("message"), str)
                and isinstance(item.get("stack", []), list)):
            raise malformed
        try:
            diagnostics.append(Diagnostic.from_json({**item, "message": fit(item["message"])}))
        except (TypeError, ValueError, OverflowError):  # numbers that are not ones
            raise malformed from None
    return diagnostics


def jobs_from_child(
    items: list[Any], limits: Limits, rules: JobRules, where: str,
    declared: Any = None, sites: Any = None,
) -> list[Job]:
    """Rebuild and re-check the child's jobs: the parent never trusts the sandbox.

    Each job names its place in `sites` (a location and a call stack, sent once for all
    the jobs made at that place); the places only say where, the fields are checked.
    """
    intake = JobIntake(limits, rules, where)
    intake.take({"jobs": items, "sites": sites})
    return intake.finish(declared)


class JobIntake:
    """The parent's re-check of the child's jobs, a slice at a time as they arrive.

    Each job is rebuilt from its fields and checked as if the child had lied, then
    handed to `prepare` (in a run: its defaults filled in, its text and its share of the
    operation id made), all while the child still runs. Nothing is decided before
    `finish`: the verdict (the job limit, then a malformed reply, then every job's
    problems in order) is the one the whole reply at once would get, and it counts only
    if a result follows.
    """

    def __init__(self, limits: Limits, rules: JobRules, where: str,
                 prepare: Callable[[Job], Job] | None = None) -> None:
        self._limits = limits
        self._rules = rules
        self.where = where
        self._prepare = prepare
        self._places: list[tuple[Location, tuple[Frame, ...]]] = []
        # Per job in order: the job and the workflow the child named, or its problem.
        self._taken: list[tuple[Job, Any] | Diagnostic] = []
        self._count = 0
        self._malformed = False

    def take(self, message: dict[str, Any]) -> None:
        """One slice (or the result's rest): its new places, then its jobs."""
        items = message.get("jobs")
        if not isinstance(items, list):
            self._malformed = True
            return
        self._count += len(items)
        if self._malformed or self._count > self._limits.max_jobs:
            return  # the verdict is decided: nothing more is kept
        sites = message.get("sites")
        try:
            self._places += [_place(site) for site in sites] if isinstance(sites, list) else []
        except (TypeError, ValueError, OverflowError):  # a place whose numbers are not ones
            self._malformed = True
            return
        for item in items:
            self._take_one(item)
            if self._malformed:
                return

    def _take_one(self, item: Any) -> None:
        site = item.get("site") if isinstance(item, dict) else None
        if type(site) is not int or not 0 <= site < len(self._places):
            self._malformed = True
            return
        location, stack = self._places[site]
        try:
            normalized = normalize_document(item.get("fields"), self._rules)
        except JobError as err:
            self._taken.append(Diagnostic(location, str(err), stack=stack))
            return
        job = Job(normalized["job_name"], normalized, location, stack)
        self._taken.append((job if self._prepare is None else self._prepare(job),
                            item.get("workflow")))

    def finish(self, declared: Declared | None) -> list[Job]:
        """The checked jobs in order, each in its workflow; PipelineFailed otherwise."""
        from engine.core.workflows import WorkflowError, cross_workflow_problems

        at = Location(self.where)
        if self._count > self._limits.max_jobs:
            raise PipelineFailed(
                [Diagnostic(at, f"job limit of {self._limits.max_jobs} jobs exceeded")])
        if self._malformed:
            raise PipelineFailed([Diagnostic(at, "the sandbox returned a malformed job")])
        jobs: list[Job] = []
        problems: list[Diagnostic] = []
        for taken in self._taken:
            if isinstance(taken, Diagnostic):
                problems.append(taken)
                continue
            job, named = taken
            try:
                job.workflow = declared.check_use(named) if declared else None
            except WorkflowError as err:
                problems.append(Diagnostic(job.location, str(err), stack=job.stack))
                continue
            jobs.append(job)
        if problems:
            raise PipelineFailed(problems)
        problems = [Diagnostic(job.location, text, stack=job.stack)
                    for job, text in cross_workflow_problems(jobs)]
        if problems:
            raise PipelineFailed(problems)
        return jobs


def _place(site: Any) -> tuple[Location, tuple[Frame, ...]]:
    """A place the child reported: where a job was made and its call stack."""
    data = site if isinstance(site, dict) else {}
    return (Location.from_json(data.get("location")),
            Diagnostic.from_json({"stack": data.get("stack", [])}).stack)
