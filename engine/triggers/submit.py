"""`ingest --submit`: hand the written triggers file to the coordinator directly.

The file is POSTed to ``/api/v1/jobs/{job_id}/triggers``. On 201 it is removed, as
runnerlib does, so that the worker does not hand it in a second time; on any failure
it stays where it is, untouched, for the worker to pick up. Retrying is safe: the
coordinator finds-or-creates the workflow by (parent job, ``operation_id``), so a
payload that arrives twice creates its jobs once.
"""

from __future__ import annotations

import json
import os

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.common.secret import Secret

__all__ = ["SubmitError", "check_target", "shown_ids", "submit_file", "submits_by_default"]

# What a plain-http refusal adds: the eval job's command line is the project's setting.
INSECURE_HINT = (
    "; in an eval job the coordinator's address is often plain http inside the cluster, "
    "and the worker passes no option to this command: put --allow-insecure-transport in "
    "the project's job command (default_job_command = \"python -m engine "
    "--allow-insecure-transport\") only if that network is trusted"
)


def submits_by_default(coordinator_url: str | None, token: object, job_id: str | None) -> bool:
    """A run submits unless told not to when it has all it needs: the coordinator's
    address, a token and its own job id (as an eval job does)."""
    return bool(coordinator_url and token and job_id)


def shown_ids(ids: list[str]) -> str:
    """Job ids from the coordinator as they may be printed: escaped, space-separated."""
    return " ".join(json.dumps(i, ensure_ascii=True)[1:-1] or '""' for i in ids)


class SubmitError(Exception):
    """The triggers file could not be submitted; the message says why, never the token."""


def check_target(
    coordinator_url: str | None,
    token: Secret | str | None,
    job_id: str | None,
    *,
    allow_insecure_transport: bool = False,
) -> None:
    """Refuse a submission that cannot work, before anything is evaluated or sent."""
    missing = [
        name
        for name, value in (
            ("REACTORCIDE_COORDINATOR_URL", coordinator_url),
            ("REACTORCIDE_API_TOKEN", token),
            ("REACTORCIDE_JOB_ID", job_id),
        )
        if not value
    ]
    if missing or not coordinator_url or not token:
        raise SubmitError(f"submitting needs {' and '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not set")
    from engine.capabilities.coordinator.http import check_settings

    problem: str | None = None
    try:
        check_settings(coordinator_url, token, allow_insecure_transport=allow_insecure_transport)
    except CapabilityError as err:
        problem = str(err)
    if problem is not None:
        hint = INSECURE_HINT if "plain http" in problem else ""
        raise SubmitError(f"cannot submit: {problem}{hint}")


def submit_file(
    coordinator_url: str,
    token: Secret | str,
    job_id: str,
    path: str,
    *,
    allow_insecure_transport: bool = False,
    budget_seconds: float = 30.0,
) -> list[str]:
    """POST the triggers file at ``path`` for parent job ``job_id``; return the ids of
    the jobs the coordinator created, and remove the file.

    Raises SubmitError, leaving the file untouched, when the coordinator does not
    answer 201 after its retries, or when the file is not a triggers document.
    """
    check_target(coordinator_url, token, job_id,
                 allow_insecure_transport=allow_insecure_transport)
    from engine.capabilities.coordinator.http import submit_triggers
    from engine.core.diagnostics import EngineFailure
    from engine.triggers import file as triggers_file

    problem: str | None = None
    created: list[str] = []
    try:
        # Held across the request, so that no concurrent ingest appends to the file
        # between what is sent and what is removed.
        with triggers_file.locked(path):
            data = _read(path)
            try:
                created = submit_triggers(
                    coordinator_url,
                    token,
                    job_id,
                    data,
                    allow_insecure_transport=allow_insecure_transport,
                    budget_seconds=budget_seconds,
                )
            except CapabilityError as err:
                problem = f"submitting {path} failed: {err}"
            if problem is None:
                _remove_if_unchanged(path, data)
    except EngineFailure as failure:
        problem = "; ".join(d.message for d in failure.diagnostics)
    if problem is not None:
        raise SubmitError(problem)
    return created


def _read(path: str) -> bytes:
    problem: str | None = None
    from engine.common.regular_file import FileRefused, read_regular
    from engine.triggers.file import MAX_BYTES

    try:
        data = read_regular(path, MAX_BYTES, what="the triggers file")
    except FileRefused as err:
        problem = str(err)
    except OSError as err:
        problem = f"cannot read {path} to submit it: {err.strerror}"
    if problem is not None:
        raise SubmitError(problem)
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        document = None
    if (
        not isinstance(document, dict)
        or document.get("type") != "trigger_job"
        or not isinstance(document.get("operation_id"), str)
        or not (isinstance(document.get("jobs"), list)
                or isinstance(document.get("workflows"), list))
    ):
        raise SubmitError(f"{path} is not a triggers document; nothing was submitted")
    return data


def _remove_if_unchanged(path: str, sent: bytes) -> None:
    """Remove the submitted file, unless something rewrote it meanwhile."""
    try:
        with open(path, "rb") as handle:
            if handle.read() != sent:
                return
        os.unlink(path)
    except OSError:
        return  # already gone, or not removable: the worker's resubmission is harmless
