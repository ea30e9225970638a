"""One run, end to end: inputs snapshot -> sandboxed evaluation -> validation -> writer.

`RunOptions` (engine.run.options) and the backends (engine.run.backends) are re-exported
here for callers that run the engine as a library."""

from __future__ import annotations

import sys

from engine.capabilities.base import CapabilityError
from engine.common.record import Record
from engine.core.diagnostics import Location, PipelineFailed
from engine.core.jobs import Job
from engine.core.usage import RunUsage, Usage
from engine.policy import Policy
from engine.run.backends import Backends, job_state_for, live_backends, source_tree
from engine.run.context import complete_context
from engine.run.inputs import Inputs
from engine.run.options import RunOptions
from engine.run.recheck import JobIntake, diagnostics_from_child, result_from_child
from engine.sandbox.broker import HostServices, PrintSink
from engine.sandbox.parent import Sandbox
from engine.triggers import document as compose

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from engine.run.recorder import Recorder
    from engine.triggers.file import Existing
    from engine.triggers.operation_id import Derivation


class Outcome(Record):
    """What a run decided, what it used, and the pipeline files it read."""

    __slots__ = ("declared", "document", "existing_count", "jobs", "operation_id", "sources",
                 "state", "usage", "written")

    def __init__(self, jobs: list[Job], operation_id: str | None, document: bytes | None,
                 written: bool, existing_count: int, usage: RunUsage,
                 sources: dict[str, str] | None = None) -> None:
        self.jobs = jobs
        self.operation_id = operation_id
        self.document = document
        self.written = written
        self.existing_count = existing_count
        self.usage = usage
        self.sources = sources or {}
        # Workflow variables and outputs the run set (engine.core.workflow_state).
        self.state: dict[str, dict[str, Any]] = {"vars": {}, "outputs": {}}
        self.declared: Any = None  # engine.core.workflows.Declared, when workflows were named


def _context(inputs: Inputs, services: HostServices) -> dict[str, Any]:
    """`ctx` values: the environment's, completed from the repository when needed.

    Asked through the services, so that a later `git_info()` gets the same answer.
    """
    info: dict[str, Any] = {}
    if inputs.needs_repository_context():
        try:
            info = services.answer("git", "info", [None])
        except CapabilityError:
            info = {}
    return complete_context(inputs.context, info)


class Evaluation(Record):
    """What the sandbox decided: checked jobs, what it used, the `ctx` values it saw and
    the text of every pipeline file it read (the pipeline and what it loaded)."""

    __slots__ = ("context", "declared", "derivation", "jobs", "protections", "sources", "state",
                 "usage")

    def __init__(self, jobs: list[Job], usage: Usage, context: dict[str, Any],
                 sources: dict[str, str], protections: tuple[str, ...] = ()) -> None:
        self.jobs = jobs
        self.usage = usage
        self.context = context
        self.sources = sources
        self.protections = protections
        self.state: dict[str, dict[str, Any]] = {"vars": {}, "outputs": {}}
        self.declared: Any = None  # engine.core.workflows.Declared
        # The operation id of the jobs, derived as they arrived (None: derive it later).
        self.derivation: Derivation | None = None


def evaluate(
    inputs: Inputs,
    options: RunOptions,
    stderr: TextIO | None = None,
    sandbox: Sandbox | None = None,
    backends: Backends | None = None,
    recorder: Recorder | None = None,
) -> Evaluation:
    """Run the pipeline in the sandbox and check every job it triggered.

    `backends` defaults to the live ones; `recorder`, when given, is shown the services
    and every line of output, so that a transcript can be written even on failure.
    """
    # Forked before any thread exists.
    sandbox = sandbox or Sandbox(inputs.token)
    backends = backends or live_backends(inputs, options)
    sink = PrintSink(stderr or sys.stderr, options.limits.max_print_bytes,
                     keep=recorder.output if recorder is not None else None)
    services = HostServices(backends.git, backends.job_state, sink, backends.sources,
                            disabled=options.policy.builtins.disabled)
    for capability, method, args, answer in backends.answers:
        services.seed(capability, method, args, answer)
    if recorder is not None:
        recorder.services = services
    context = _context(inputs, services)
    if recorder is not None:
        recorder.context = context
    sources = {inputs.pipeline_name: inputs.pipeline_text}
    warnings: list[str] = getattr(backends.git, "warnings", [])
    # The child's jobs are re-checked and prepared as they arrive, on this process's
    # own core, while the pipeline still runs.
    from engine.triggers.operation_id import Derivation

    derivation = Derivation(job_id=context.get("job_id"), commit=context.get("commit"))
    intake = JobIntake(options.limits, options.policy.jobs, inputs.pipeline_name,
                       _prepare(context, derivation))
    try:
        report = sandbox.run(_request(inputs, options.policy, context), options.limits,
                             services, inputs.pipeline_name, intake.take)
        jobs, state, declared = _decided(report.message, report.usage, options, sink, intake)
    except PipelineFailed as failure:
        failure.sources = {**sources, **services.loaded_sources()}
        raise
    finally:
        _show_warnings(warnings, inputs.pipeline_name, stderr, recorder)
    protections = tuple(str(p) for p in report.message.get("protections", []))
    evaluation = Evaluation(jobs, report.usage, context,
                            {**sources, **services.loaded_sources()}, protections)
    evaluation.state = state
    evaluation.declared = declared
    evaluation.derivation = derivation
    return evaluation


def _request(inputs: Inputs, policy: Policy, context: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox is asked to evaluate, with which `ctx` values and rules."""
    return {
        "mode": "evaluate",
        "source": {"name": inputs.pipeline_name, "text": inputs.pipeline_text},
        "context": context,
        "rules": policy.jobs.to_json(),
        "disabled": list(policy.builtins.disabled),
    }


def _prepare(context: dict[str, Any], derivation: Derivation) -> Callable[[Job], Job]:
    """What each re-checked job gets before the writer needs it: the eval run's checkout
    defaults filled in, its text made, its document added to the operation id."""
    from engine.core.job_defaults import defaults_for, fill
    from engine.triggers.file import job_text

    defaults = defaults_for(context)

    def prepare(job: Job) -> Job:
        if defaults:
            job = Job(job.name, fill(job.fields, defaults), job.location, job.stack)
        document = job.to_document()
        job.rendered(job_text, document)
        derivation.add(document, job)
        return job

    return prepare


def _decided(message: dict[str, Any], measured: Usage, options: RunOptions, sink: PrintSink,
             intake: JobIntake) -> tuple[list[Job], dict[str, dict[str, Any]], Any]:
    """The jobs, workflow state and named workflows of the sandbox's reply, checked again;
    PipelineFailed with the pipeline's problems, or when the reply is not one."""
    if message.get("type") == "failed":
        raise _failure(message, RunUsage(measured, options.limits), sink, intake.where)
    return result_from_child(message, options.limits, options.policy.jobs, intake.where,
                             intake)


def _failure(message: dict[str, Any], usage: RunUsage, sink: PrintSink,
             where: str) -> PipelineFailed:
    """The pipeline's failure as the sandbox reported it, with how far it got; raises
    PipelineFailed when the report is malformed (the parent never trusts the child)."""
    failure = PipelineFailed(diagnostics_from_child(message.get("diagnostics"), where, sink.fit))
    triggered = message.get("jobs")
    if isinstance(triggered, int) and not isinstance(triggered, bool):
        usage.jobs = triggered  # how far the pipeline got
    if message.get("evaluated") is not False:  # a file that does not parse ran nothing
        failure.usage = usage
    return failure


def _show_warnings(warnings: list[str], pipeline_name: str, stderr: TextIO | None,
                   recorder: Recorder | None) -> None:
    """What the git backend warned of, shown even when the pipeline fails."""
    from engine.common.shown import escape_controls

    for warning in warnings:
        (stderr or sys.stderr).write(f"{pipeline_name}: warning: {escape_controls(warning)}\n")
    if recorder is not None:
        recorder.warnings = list(warnings)


warnings_for = compose.warnings_for


def run(
    inputs: Inputs,
    options: RunOptions,
    stderr: TextIO | None = None,
    sandbox: Sandbox | None = None,
    recorder: Recorder | None = None,
) -> Outcome:
    """Evaluate, validate and (unless dry-run) write the triggers file.

    `sandbox` may be a child forked earlier, so that its start-up overlapped ours.
    `recorder` collects what a transcript needs (see engine.transcripts.transcript).
    """
    from engine.triggers.file import read_existing

    read_existing(inputs.triggers_file)  # a broken file is reported before anything runs
    evaluation = evaluate(inputs, options, stderr, sandbox, recorder=recorder)
    try:
        result = compose.write_jobs(
            inputs.triggers_file,
            evaluation.jobs,
            write=not options.dry_run,
            on_read=recorder.read_previous if recorder is not None else None,
            rules=options.policy.jobs,
            **_composing(inputs, evaluation, options),
        )
    except PipelineFailed as failure:
        failure.sources = evaluation.sources
        failure.usage = RunUsage(evaluation.usage, options.limits, len(evaluation.jobs))
        raise
    size = len(result.document) if result.document is not None else 0
    usage = RunUsage(evaluation.usage, options.limits, len(evaluation.jobs), size,
                     evaluation.protections)
    outcome = Outcome(evaluation.jobs, result.operation_id, result.document, result.written,
                      result.existing_count, usage, evaluation.sources)
    outcome.state = evaluation.state
    outcome.declared = evaluation.declared
    return outcome


def compose_in_memory(inputs: Inputs, evaluation: Evaluation, options: RunOptions,
                      existing: Existing | None) -> compose.Composition:
    """The document a run would write over `existing`, touching no file (replay, tests)."""
    try:
        return compose.compose(evaluation.jobs, existing,
                               **_composing(inputs, evaluation, options))
    except PipelineFailed as failure:
        failure.sources = evaluation.sources
        raise


def _composing(inputs: Inputs, evaluation: Evaluation, options: RunOptions) -> dict[str, Any]:
    """The writer's arguments that come from the run."""
    return {
        "job_id": evaluation.context.get("job_id"),
        "commit": evaluation.context.get("commit"),
        "max_output_bytes": options.limits.max_output_bytes,
        "where": Location(inputs.pipeline_name),
        "declared": evaluation.declared,
        "derivation": evaluation.derivation,
    }


__all__ = ["Backends", "Evaluation", "Outcome", "RunOptions", "compose_in_memory", "evaluate",
           "job_state_for", "live_backends", "run", "source_tree", "warnings_for"]
