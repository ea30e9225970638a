"""One run, end to end: inputs snapshot -> sandboxed evaluation -> validation -> writer."""

from __future__ import annotations

import os
import sys

from engine import operation_id, triggers_file
from engine.capabilities.base import CapabilityError, JobState
from engine.diagnostics import Diagnostic, Location, PipelineFailed
from engine.inputs import Inputs
from engine.jobs import Job
from engine.limits import Limits
from engine.record import Record
from engine.sandbox.parent import Sandbox, Usage
from engine.services import DeferredJobState, HostServices, PrintSink, UnconfiguredJobState
from engine.validate import JobError, graph_problems, normalize_document

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO


class RunOptions(Record):
    """How to run: write or only show, transport permissions, limits."""

    __slots__ = ("allow_insecure_transport", "dry_run", "limits")

    def __init__(self, *, dry_run: bool = False, allow_insecure_transport: bool = False,
                 limits: Limits | None = None) -> None:
        self.dry_run = dry_run
        self.allow_insecure_transport = allow_insecure_transport
        self.limits = limits or Limits()


class Outcome(Record):
    """What a run decided."""

    __slots__ = ("document", "existing_count", "jobs", "operation_id", "usage", "written")

    def __init__(self, jobs: list[Job], operation_id: str | None, document: bytes | None,
                 written: bool, existing_count: int, usage: Usage) -> None:
        self.jobs = jobs
        self.operation_id = operation_id
        self.document = document
        self.written = written
        self.existing_count = existing_count
        self.usage = usage


def job_state_for(inputs: Inputs, options: RunOptions) -> JobState:
    """The coordinator backend, or one that explains what configuration is missing."""
    if not inputs.coordinator_url:
        return UnconfiguredJobState(
            "the coordinator is not configured: REACTORCIDE_COORDINATOR_URL is not set"
        )
    if inputs.token is None:
        return UnconfiguredJobState(
            "the coordinator is not configured: REACTORCIDE_API_TOKEN is not set"
        )
    url, token = inputs.coordinator_url, inputs.token.value

    def build() -> JobState:
        from engine.capabilities.coordinator_http import HttpJobState

        return HttpJobState(
            url,
            token,
            allow_insecure_transport=options.allow_insecure_transport,
            workflow_id=inputs.workflow_id,
        )

    return DeferredJobState(build)


def _context(inputs: Inputs, services: HostServices) -> dict[str, str | None]:
    """`ctx` values: the environment's, completed from the repository when needed.

    Asked through the services, so that a later `git_info()` gets the same answer.
    """
    context = dict(inputs.context)
    info: dict[str, Any] = {}
    if inputs.needs_repository_context():
        try:
            info = services.answer("git", "info", [None])
        except CapabilityError:
            info = {}
    context["branch"] = context.get("branch") or info.get("branch")
    context["commit"] = context.get("commit") or info.get("commit")
    if not context.get("ref"):
        if context.get("branch"):
            context["ref"] = f"refs/heads/{context['branch']}"
        elif info.get("tag"):
            context["ref"] = f"refs/tags/{info['tag']}"
    return context


def evaluate(
    inputs: Inputs,
    options: RunOptions,
    stderr: TextIO | None = None,
    sandbox: Sandbox | None = None,
) -> tuple[list[Job], Usage, dict[str, str | None]]:
    """Run the pipeline in the sandbox: its jobs, checked one by one, its usage, and the
    `ctx` values it saw (from the environment, completed from the repository)."""
    from engine.capabilities.git_live import LiveGit, scrub_git_environment

    scrub_git_environment(inputs.src_dir)
    git = LiveGit(inputs.src_dir)
    redact = (inputs.token.value,) if inputs.token else ()
    sink = PrintSink(stderr or sys.stderr, options.limits.max_print_bytes, redact)
    services = HostServices(git, job_state_for(inputs, options), sink)
    context = _context(inputs, services)
    request = {
        "mode": "evaluate",
        "source": {"name": inputs.pipeline_name, "text": inputs.pipeline_text},
        "context": context,
    }
    report = (sandbox or Sandbox()).run(
        request, options.limits, services, inputs.pipeline_name
    )
    message = report.message
    if message.get("type") == "failed":
        raise PipelineFailed(
            [Diagnostic.from_json(d) for d in message.get("diagnostics", [])]
        )
    if message.get("type") != "result" or not isinstance(message.get("jobs"), list):
        raise PipelineFailed(
            [Diagnostic(Location(inputs.pipeline_name), "the sandbox returned no result")]
        )
    jobs = _jobs_from_child(message["jobs"], options.limits, inputs.pipeline_name)
    return jobs, report.usage, context


def _jobs_from_child(items: list[Any], limits: Limits, where: str) -> list[Job]:
    """Rebuild and re-check the child's jobs: the parent never trusts the sandbox."""
    if len(items) > limits.max_jobs:
        raise PipelineFailed(
            [Diagnostic(Location(where), f"job limit of {limits.max_jobs} jobs exceeded")]
        )
    jobs: list[Job] = []
    problems: list[Diagnostic] = []
    for item in items:
        if not isinstance(item, dict):
            malformed = Diagnostic(Location(where), "the sandbox returned a malformed job")
            raise PipelineFailed([malformed])
        location = Location.from_json(item.get("location"))
        stack = Diagnostic.from_json({"stack": item.get("stack", [])}).stack
        try:
            normalized = normalize_document(item.get("fields"))
        except JobError as err:
            problems.append(Diagnostic(location, str(err), stack=stack))
            continue
        jobs.append(Job(normalized["job_name"], normalized, location, stack))
    if problems:
        raise PipelineFailed(problems)
    return jobs


def _graph_diagnostics(jobs: list[Job], existing: list[str]) -> list[Diagnostic]:
    return [
        Diagnostic(job.location, message, stack=job.stack)
        for job, message in graph_problems(jobs, existing)
    ]


def warnings_for(jobs: list[Job]) -> list[Diagnostic]:
    """Things that are valid but probably not what the author meant."""
    out = []
    for job in jobs:
        if job.fields.get("condition") == "any_success":
            out.append(Diagnostic(
                job.location,
                f'job "{job.name}": condition "any_success" is documented but the '
                "coordinator does not implement it; the job will be skipped",
                "warning",
            ))
    return out


def run(
    inputs: Inputs,
    options: RunOptions,
    stderr: TextIO | None = None,
    sandbox: Sandbox | None = None,
) -> Outcome:
    """Evaluate, validate and (unless dry-run) write the triggers file.

    `sandbox` may be a child forked earlier, so that its start-up overlapped ours.
    """
    jobs, usage, context = evaluate(inputs, options, stderr, sandbox)
    path = inputs.triggers_file
    if options.dry_run or not jobs:
        existing = triggers_file.read_existing(path)
        return _decide(inputs, options, jobs, existing, usage, context, write=False)
    with triggers_file.locked(path):
        existing = triggers_file.read_existing(path)
        return _decide(inputs, options, jobs, existing, usage, context, write=True)


def _decide(
    inputs: Inputs,
    options: RunOptions,
    jobs: list[Job],
    existing: triggers_file.Existing | None,
    usage: Usage,
    context: dict[str, str | None],
    *,
    write: bool,
) -> Outcome:
    existing_jobs = existing.jobs if existing else []
    problems = _graph_diagnostics(jobs, existing.names if existing else [])
    if problems:
        raise PipelineFailed(problems)
    if not jobs:
        return Outcome(jobs, None, None, False, len(existing_jobs), usage)
    new_docs = [job.to_document() for job in jobs]
    op_id = operation_id.derive(
        job_id=context.get("job_id"),
        sources={_relative_name(inputs): inputs.pipeline_text},
        commit=context.get("commit"),
        jobs=new_docs,
        previous=(existing.operation_id or "") if existing else None,
    )
    data = triggers_file.render(op_id, [*existing_jobs, *new_docs])
    if len(data) > options.limits.max_output_bytes:
        raise PipelineFailed([Diagnostic(
            Location(inputs.pipeline_name),
            f"output limit of {options.limits.max_output_bytes} bytes exceeded "
            f"(the triggers document would be {len(data)} bytes)",
        )])
    if write:
        triggers_file.write_atomic(inputs.triggers_file, data)
    return Outcome(jobs, op_id, data, write, len(existing_jobs), usage)


def _relative_name(inputs: Inputs) -> str:
    try:
        return os.path.relpath(inputs.pipeline_path, inputs.src_dir)
    except ValueError:
        return os.path.basename(inputs.pipeline_path)
