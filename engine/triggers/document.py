"""From decided jobs to the triggers file: graph checks, operation id, the exact bytes,
the size limit, and the locked, atomic append.

Shared by `python -m engine` and the Python workflow API (`workflow`), so that the same
decisions give the same document whichever language made them.
"""

from __future__ import annotations

from engine.common.record import Record
from engine.core.diagnostics import Diagnostic, PipelineFailed
from engine.core.job_graph import graph_problems
from engine.triggers import file as triggers_file
from engine.triggers import operation_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.core.diagnostics import Location
    from engine.core.jobs import Job
    from engine.core.validate import JobRules
    from engine.core.workflows import Declared


class Composition(Record):
    """The document one batch of jobs makes, appended to what the file held."""

    __slots__ = ("document", "existing_count", "operation_id", "written")

    def __init__(self, operation_id: str | None, document: bytes | None, existing_count: int,
                 written: bool = False) -> None:
        self.operation_id = operation_id
        self.document = document
        self.existing_count = existing_count
        self.written = written


def graph_diagnostics(jobs: list[Job], existing: list[str]) -> list[Diagnostic]:
    """Duplicates, unknown dependencies and cycles, each at the line that created the job."""
    return [
        Diagnostic(job.location, message, stack=job.stack)
        for job, message in graph_problems(jobs, existing)
    ]


def warnings_for(jobs: list[Job]) -> list[Diagnostic]:
    """Things that are valid but probably not what the author meant."""
    from engine.core.coordinator_rules import replaced_field_warnings

    found = []
    for job in jobs:
        if job.fields.get("condition") == "any_success":
            found.append(Diagnostic(
                job.location,
                f'job "{job.name}": condition "any_success" is documented but the '
                "coordinator does not implement it; the job will be skipped",
                "warning",
            ))
        found += [Diagnostic(job.location, text, "warning")
                  for text in replaced_field_warnings(job)]
    return found


def plan_warnings(jobs: list[Job]) -> list[Diagnostic]:
    """What `plan` says on top of `warnings_for`: jobs that would run no command."""
    from engine.core.coordinator_rules import missing_command_warning

    return [Diagnostic(job.location, text, "warning") for job in jobs
            if (text := missing_command_warning(job)) is not None]


def compose(
    jobs: list[Job],
    existing: triggers_file.Existing | None,
    *,
    job_id: str | None,
    commit: str | None,
    max_output_bytes: int,
    where: Location,
    declared: Declared | None = None,
    derivation: operation_id.Derivation | None = None,
) -> Composition:
    """Check the graph and render the combined document; PipelineFailed when invalid.

    No jobs give no document. `where` is blamed when the document would exceed the size
    limit. `declared` names the run's workflows: with named ones the document takes the
    `workflows` form (engine.core.workflows). `derivation` is the operation id derived
    while the jobs arrived; it is used when it covers exactly these jobs.
    """
    existing_jobs = existing.jobs if existing else []
    problems = graph_diagnostics(jobs, existing.names if existing else [])
    if problems:
        raise PipelineFailed(problems)
    if not jobs:
        return Composition(None, None, len(existing_jobs))
    named = declared is not None and declared.named_form(jobs)
    if named and existing_jobs:
        raise PipelineFailed([Diagnostic(
            where, "named workflows cannot be appended to an existing triggers file (it "
            "holds a plain jobs list); write to a new file")])
    batches: list[dict[str, Any]] = []
    if named:
        from engine.core.workflows import batches as workflow_batches

        assert declared is not None
        batches = workflow_batches(declared, jobs)
    previous = (existing.operation_id or "") if existing else None
    if not named and _covers(derivation, jobs, job_id, commit):
        assert derivation is not None
        op_id = derivation.finish(previous)
    else:
        op_id = operation_id.derive(
            job_id=job_id, commit=commit, previous=previous,
            jobs=batches if named else [job.to_document() for job in jobs])
    if named:
        data = triggers_file.render_workflows(op_id, batches)
    else:
        job_text = triggers_file.job_text
        data = triggers_file.render_texts(op_id, [*map(job_text, existing_jobs),
                                                  *(job.rendered(job_text) for job in jobs)])
    if len(data) > max_output_bytes:
        raise PipelineFailed([Diagnostic(
            where,
            f"output limit of {max_output_bytes} bytes exceeded "
            f"(the triggers document would be {len(data)} bytes)",
        )])
    return Composition(op_id, data, len(existing_jobs))


def _covers(derivation: operation_id.Derivation | None, jobs: list[Job],
            job_id: str | None, commit: str | None) -> bool:
    """Whether `derivation` was made from exactly these jobs, in this order, for this
    job id and commit."""
    return (derivation is not None and derivation.job_id == job_id
            and derivation.commit == commit and len(derivation.tags) == len(jobs)
            and all(tag is job for tag, job in zip(derivation.tags, jobs, strict=True)))


def write_jobs(
    path: str,
    jobs: list[Job],
    *,
    job_id: str | None,
    commit: str | None,
    max_output_bytes: int,
    where: Location,
    write: bool = True,
    on_read: Callable[[bytes | None], None] | None = None,
    rules: JobRules | None = None,
    declared: Declared | None = None,
    derivation: operation_id.Derivation | None = None,
) -> Composition:
    """`compose` against the file at `path` and, when `write` and there are jobs, replace
    it atomically while holding the directory lock (read, check and write under one lock,
    so concurrent writers lose no job). On any error the file is left as it was.

    `on_read` is handed the file's bytes as read (None: no file), for a transcript.
    `rules` (the current policy's) are applied to the jobs already in the file too. A
    symbolic link at `path` is written through, never replaced.
    """
    shown = path
    path = triggers_file.target(path)
    def against_file() -> Composition:
        raw = triggers_file.read_bytes(path)
        if on_read is not None:
            on_read(raw)
        existing = None if raw is None else triggers_file.parse_existing(raw, shown, rules)
        return compose(jobs, existing, job_id=job_id, commit=commit,
                       max_output_bytes=max_output_bytes, where=where, declared=declared,
                       derivation=derivation)

    if not write or not jobs:
        return against_file()
    with triggers_file.locked(path):
        result = against_file()
        assert result.document is not None
        triggers_file.write_atomic(path, result.document)
    result.written = True
    return result
