"""Writing a context's jobs: appended to the triggers file atomically and under a lock,
as `python -m engine` writes it, then (when the context submits) posted to the
coordinator."""

from __future__ import annotations

import os

from engine.common.secret import redact
from engine.core.diagnostics import Diagnostic, PipelineFailed, UsageError
from engine.core.jobs import count_jobs
from engine.triggers.document import write_jobs
from workflow.errors import TriggerError, WorkflowError
from workflow.messages import render, say

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.common.secret import Secret
    from engine.core.diagnostics import Location
    from engine.triggers.document import Composition
    from workflow.book import WorkflowBook


def write_pending(book: WorkflowBook, path: str, *, job_id: str | None, commit: str | None,
                  max_output_bytes: int, where: Location) -> Composition:
    """Append the book's pending jobs to the triggers file at `path` (the caller holds
    `book.lock` and takes the jobs after); the file is left as it was on any error."""
    from engine.core.workflows import cross_workflow_problems

    crossing = [Diagnostic(job.location, text)
                for job, text in cross_workflow_problems(book.pending)]
    if crossing:
        raise TriggerError(render(crossing, "nothing was written"), crossing)
    try:
        _make_parent(path)
        return write_jobs(path, book.pending, job_id=job_id, commit=commit,
                          max_output_bytes=max_output_bytes, where=where, rules=book.rules,
                          declared=book.declared)
    except PipelineFailed as failure:
        raise TriggerError(
            render(failure.diagnostics, "nothing was written"), failure.diagnostics
        ) from None
    except UsageError as failure:
        raise WorkflowError(
            render(failure.diagnostics, "nothing was written"), failure.diagnostics
        ) from None


def say_written(path: str, count: int, result: Composition) -> None:
    """Say how many jobs the file gained and holds now, and the write's operation id."""
    if result.existing_count:
        say(f"appended {count_jobs(count)} to {path} (now "
            f"{count_jobs(result.existing_count + count)}, "
            f"operation_id {result.operation_id})")
    else:
        say(f"wrote {count_jobs(count)} to {path} (operation_id {result.operation_id})")


def _make_parent(path: str) -> None:
    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise UsageError(
                f"cannot create the triggers file's directory: {err.strerror}", path
            ) from None


class Submitter:
    """Where a flush posts the written file: the coordinator, with the job's token."""

    def __init__(self, coordinator_url: str | None, token: Secret | None, *,
                 allow_insecure_transport: bool, wall_seconds: float) -> None:
        self.coordinator_url = coordinator_url
        self._token = token
        self.allow_insecure_transport = allow_insecure_transport
        self.wall_seconds = wall_seconds

    def check(self, job_id: str | None) -> None:
        """WorkflowError (before anything is written) when the file could not be posted."""
        from engine.triggers.submit import SubmitError, check_target

        try:
            check_target(self.coordinator_url, self._token, job_id,
                         allow_insecure_transport=self.allow_insecure_transport)
        except SubmitError as error:
            raise WorkflowError(f"nothing was written: {error}") from None

    def submit(self, path: str, job_id: str | None) -> None:
        """POST the written file, as `python -m engine` does; WorkflowError (the file
        kept) when the coordinator does not take it."""
        from engine.capabilities.coordinator.http import budget_for
        from engine.triggers.submit import SubmitError, shown_ids, submit_file

        try:
            created = submit_file(self.coordinator_url or "", self._token or "",
                                  job_id or "", path,
                                  allow_insecure_transport=self.allow_insecure_transport,
                                  budget_seconds=budget_for(self.wall_seconds))
        except SubmitError as error:
            text = redact(str(error), self._token)
            raise WorkflowError(f"{text}; {path} is kept; no job was created from it") from None
        say(f"submitted {path}: the coordinator created {count_jobs(len(created))}"
            + (f": {shown_ids(created)}" if created else ""))
