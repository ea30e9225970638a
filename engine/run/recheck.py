"""The parent's re-check of what the sandbox returned: every job rebuilt and checked
again against the rules and the policy, as if the child had lied."""

from __future__ import annotations

from engine.core.diagnostics import Diagnostic, Frame, Location, PipelineFailed
from engine.core.jobs import Job
from engine.core.validate import JobError, normalize_document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.core.limits import Limits
    from engine.core.validate import JobRules
    from engine.core.workflows import Declared


def result_from_child(message: dict[str, Any], limits: Limits, rules: JobRules, where: str,
                      ) -> tuple[list[Job], dict[str, dict[str, Any]], Declared]:
    """The jobs, workflow state and named workflows of the sandbox's result, each checked
    again; PipelineFailed with the pipeline's problems, or when the reply is not a result."""
    from engine.core.workflow_state import StateError, check_state
    from engine.core.workflows import Declared, WorkflowError

    at = Location(where)
    if message.get("type") != "result" or not isinstance(message.get("jobs"), list):
        raise PipelineFailed([Diagnostic(at, "the sandbox returned no result")])
    try:
        declared = Declared.from_json(message.get("workflows"))
    except WorkflowError as err:
        raise PipelineFailed([Diagnostic(at, f"the sandbox returned {err}")]) from None
    jobs = jobs_from_child(message["jobs"], limits, rules, where, declared,
                           message.get("sites"))
    try:
        state = check_state(message.get("workflow_state"))
    except StateError as err:
        raise PipelineFailed([Diagnostic(at, f"the sandbox returned {err}")]) from None
    return jobs, state, declared


def jobs_from_child(
    items: list[Any], limits: Limits, rules: JobRules, where: str,
    declared: Any = None, sites: Any = None,
) -> list[Job]:
    """Rebuild and re-check the child's jobs: the parent never trusts the sandbox.

    Each job names its place in `sites` (a location and a call stack, sent once for all
    the jobs made at that place); the places only say where, the fields are checked.
    """
    from engine.core.workflows import WorkflowError, cross_workflow_problems

    if len(items) > limits.max_jobs:
        raise PipelineFailed(
            [Diagnostic(Location(where), f"job limit of {limits.max_jobs} jobs exceeded")]
        )
    malformed = PipelineFailed(
        [Diagnostic(Location(where), "the sandbox returned a malformed job")])
    try:
        places = [_place(site) for site in sites] if isinstance(sites, list) else []
    except (TypeError, ValueError, OverflowError):  # a place whose numbers are not ones
        raise malformed from None
    jobs: list[Job] = []
    problems: list[Diagnostic] = []
    for item in items:
        site = item.get("site") if isinstance(item, dict) else None
        if type(site) is not int or not 0 <= site < len(places):
            raise malformed
        location, stack = places[site]
        try:
            normalized = normalize_document(item.get("fields"), rules)
            workflow = declared.check_use(item.get("workflow")) if declared else None
        except (JobError, WorkflowError) as err:
            problems.append(Diagnostic(location, str(err), stack=stack))
            continue
        jobs.append(Job(normalized["job_name"], normalized, location, stack, workflow))
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
