"""Job state read from the Reactorcide coordinator's HTTP API, and triggers submission.

The lookups page through the job list and filter by name on this side (the API has no
name filter), scan each status set once per run, and choose results deterministically.
Transport, retries and the token's protection live in `transport`.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from engine.capabilities.answers import Answers
from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.retry import DEFAULT_BUDGET_SECONDS, budget_for
from engine.capabilities.coordinator.transport import (
    MAX_RESPONSE_BYTES,
    Transport,
    check_settings,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from engine.common.secret import Secret

    Filter = tuple[tuple[str, str], ...]
    ByName = dict[str, list[dict[str, Any]]]

__all__ = [
    "DEFAULT_BUDGET_SECONDS",
    "MAX_PAGE_SIZE",
    "MAX_RESPONSE_BYTES",
    "RUNNING_STATUSES",
    "SCOPES",
    "TERMINAL_STATUSES",
    "HttpJobState",
    "budget_for",
    "check_settings",
    "submit_triggers",
]

RUNNING_STATUSES: tuple[str, ...] = ("submitted", "queued", "running", "cancelling")
TERMINAL_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled", "timeout")
SCOPES: tuple[str, ...] = ("workflow", "project", "all")
# The coordinator serves at most 100 jobs a page and silently uses 20 for a larger limit.
MAX_PAGE_SIZE = 100
RESULT_KEYS: tuple[str, ...] = (
    "job_id", "name", "status", "exit_code", "started_at", "completed_at",
)

_READ_RIGHT = "read jobs (jobs:read)"
_SUBMIT_RIGHT = "submit jobs (jobs:submit)"
_SETS = {"running": RUNNING_STATUSES, "finished": TERMINAL_STATUSES}


def _time_key(value: Any) -> tuple[int, float, str]:
    """Sort key for a timestamp: parsed instants compare as instants, others as text."""
    from datetime import UTC, datetime

    if not isinstance(value, str) or not value:
        return (0, 0.0, "")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return (1, 0.0, value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (2, parsed.timestamp(), value)


def _optional(job: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = job.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"job field {key!r} has the wrong type ({type(value).__name__})")
    return value


class HttpJobState:
    """JobState backed by the coordinator's ``GET /api/v1/jobs`` listing.

    The listing has no filter by name, so each status set (running or finished) is
    listed to its end once per scope and the names are matched here; every later
    question is answered from that snapshot, and a failed listing fails the same way
    again without new requests. Not meant to be shared across evaluations.

    Scopes: ``"workflow"`` (``workflow_id``, from ``RC_WF_ID``), ``"project"`` (the
    project of ``job_id``, from ``REACTORCIDE_JOB_ID``, looked up once; or
    ``project_id`` when known), ``"all"`` (everything the token may see). The default
    is ``"project"`` when the job or project is known, else ``"all"``.
    """

    def __init__(
        self,
        base_url: str,
        token: Secret | str,
        *,
        allow_insecure_transport: bool = False,
        workflow_id: str | None = None,
        job_id: str | None = None,
        project_id: str | None = None,
        timeout: tuple[float, float] = (2.0, 5.0),
        budget_seconds: float = DEFAULT_BUDGET_SECONDS,
        max_pages: int = 20,
        page_size: int = MAX_PAGE_SIZE,
        max_attempts: int = 4,
        backoff_seconds: float = 0.2,
        started: float | None = None,
    ) -> None:
        if max_pages < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise CapabilityError(
                f"max_pages must be at least 1 and page_size between 1 and {MAX_PAGE_SIZE}"
            )
        self._transport = Transport(
            base_url,
            token,
            allow_insecure_transport=allow_insecure_transport,
            timeout=timeout,
            budget_seconds=budget_seconds,
            max_attempts=max_attempts,
            backoff_seconds=backoff_seconds,
            started=started,
        )
        self._workflow_id = workflow_id or None
        self._job_id = job_id or None
        self._project_id = project_id or None
        self._max_pages = max_pages
        self._page_size = page_size
        self._filters: Answers[str, Filter] = Answers()
        self._scans: Answers[tuple[Filter, str], ByName] = Answers()
        self._lock = threading.Lock()

    @property
    def requests_sent(self) -> int:
        """HTTP requests sent so far, retries and redirects included."""
        return self._transport.requests_sent

    @property
    def default_scope(self) -> str:
        """The scope of a question that names none."""
        return "project" if self._job_id or self._project_id else "all"

    def close(self) -> None:
        """Release the HTTP connection pool (the answers are kept)."""
        self._transport.close()

    def is_job_running(self, job_name: str, scope: str | None = None) -> bool:
        """True when a job of that name is submitted, queued, running or cancelling."""
        _check_name(job_name)
        return job_name in self._jobs("running", scope)

    def get_job_result(self, job_name: str, scope: str | None = None) -> dict[str, Any] | None:
        """The most recent finished job of that name, or None when there is none."""
        _check_name(job_name)
        matches = self._jobs("finished", scope).get(job_name)
        if not matches:
            return None
        best = max(
            matches,
            key=lambda job: (
                _time_key(job.get("completed_at")),
                _time_key(job.get("created_at")),
                str(job.get("job_id", "")),
            ),
        )
        return {key: best.get(key) for key in RESULT_KEYS}

    def _jobs(self, status_set: str, scope: str | None) -> dict[str, list[dict[str, Any]]]:
        """The jobs of one status set within one scope, by name: listed once, then reused.

        A failure is remembered too and repeated without new requests.
        """
        if scope is not None and not isinstance(scope, str):
            raise CapabilityError('scope must be "workflow", "project" or "all"')
        chosen = self.default_scope if scope is None else scope
        with self._lock:
            where = self._filters.ask(chosen, lambda: self._filter(chosen))
            return self._scans.ask((where, status_set), lambda: self._scan(where, status_set))

    def _filter(self, chosen: str) -> Filter:
        if chosen == "all":
            return ()
        if chosen == "workflow":
            if self._workflow_id is None:
                raise CapabilityError(
                    'scope "workflow" needs the current workflow, but RC_WF_ID is not set '
                    '(this job is not part of a workflow); use scope = "project" or "all"'
                )
            return (("workflow_id", self._workflow_id),)
        if chosen == "project":
            return (("project_id", self._project()),)
        raise CapabilityError(f'unknown scope {chosen!r}: use "workflow", "project" or "all"')

    def _project(self) -> str:
        if self._project_id is not None:
            return self._project_id
        if self._job_id is None:
            raise CapabilityError(
                'scope "project" needs the current job to find its project, but '
                'REACTORCIDE_JOB_ID is not set; use scope = "workflow" or "all"'
            )
        action = f"looking up the project of this job ({self._job_id})"
        data = self._transport.request_json(
            "GET",
            f"/api/v1/jobs/{quote(self._job_id, safe='')}",
            action=action,
            right=_READ_RIGHT,
            expected=200,
        )
        project = data.get("project_id") if isinstance(data, dict) else None
        if not isinstance(project, str) or not project:
            raise self._transport.fail(
                f"job {self._job_id} belongs to no project, so scope \"project\" cannot be "
                'used; use scope = "workflow" or "all"'
            )
        self._project_id = project
        return project

    def _scan(self, where: Filter, status_set: str) -> dict[str, list[dict[str, Any]]]:
        by_name: dict[str, list[dict[str, Any]]] = {}
        for status in _SETS[status_set]:
            for job in self._list_status(status, where):
                by_name.setdefault(job["name"], []).append(job)
        return by_name

    def _list_status(self, status: str, where: Filter) -> list[dict[str, Any]]:
        """Every job in ``status`` within the filter, paging to the end."""
        found: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        scope = " and ".join(f"{key} {value}" for key, value in where) or "all visible jobs"
        action = f"listing jobs with status {status!r} ({scope})"
        offset = 0
        # One page past the cap is read, so that a last full page is known to be the last.
        for page in range(self._max_pages + 1):
            params: dict[str, str | int] = {
                "status": status,
                **dict(where),
                "limit": self._page_size,
                "offset": offset,
            }
            data = self._transport.request_json(
                "GET", "/api/v1/jobs", params=params, action=action,
                right=_READ_RIGHT, expected=200,
            )
            jobs, applied = self._parse_page(data, action)
            if page == self._max_pages:
                if jobs:
                    break
                return found
            for job in jobs:
                # A coordinator that ignores a filter it does not know must not widen
                # the answer, so the filters are checked here too.
                if job.get("status") != status or any(job.get(k) != v for k, v in where):
                    continue
                job_id = job.get("job_id")
                if isinstance(job_id, str):
                    if job_id in seen_ids:  # a job that shifted between pages
                        continue
                    seen_ids.add(job_id)
                found.append(job)
            offset += len(jobs)
            # `total` is only the page's length on some coordinator versions, so the
            # end is a page shorter than the limit the coordinator says it applied.
            if len(jobs) < applied:
                return found
        raise self._transport.fail(
            f"more than {self._max_pages} pages of {self._page_size} jobs while {action}; "
            f"refusing to read further (max_pages={self._max_pages}): narrow the scope, "
            'e.g. scope = "workflow"'
        )

    def _parse_page(self, data: Any, action: str) -> tuple[list[dict[str, Any]], int]:
        def shape(problem: str) -> CapabilityError:
            return self._transport.fail(
                f"answered with an unexpected shape while {action}: {problem}"
            )

        if not isinstance(data, dict):
            raise shape(f"expected a JSON object, got {type(data).__name__}")
        if "jobs" not in data:
            raise shape("no 'jobs' list")
        # A Go coordinator encodes an empty list as null.
        jobs = data["jobs"] if data["jobs"] is not None else []
        if not isinstance(jobs, list):
            raise shape("'jobs' is not a list")
        limit = data.get("limit")
        applied = self._page_size
        if isinstance(limit, int) and not isinstance(limit, bool) and 0 < limit < applied:
            applied = limit
        checked: list[dict[str, Any]] = []
        for index, job in enumerate(jobs):
            if not isinstance(job, dict):
                raise shape(f"jobs[{index}] is not an object")
            if not isinstance(job.get("name"), str):
                raise shape(f"jobs[{index}] has no string 'name'")
            try:
                for key in ("job_id", "status", "workflow_id", "project_id"):
                    _optional(job, key, str)
                _optional(job, "exit_code", int)
                for key in ("created_at", "started_at", "completed_at"):
                    _optional(job, key, str)
            except ValueError as exc:
                problem = f"jobs[{index}]: {exc}"
            else:
                checked.append(job)
                continue
            raise shape(problem)
        return checked, applied


def _check_name(job_name: Any) -> None:
    if not isinstance(job_name, str):
        raise CapabilityError("job_name must be a string")


def submit_triggers(
    base_url: str,
    token: Secret | str,
    job_id: str,
    payload_bytes: bytes,
    *,
    allow_insecure_transport: bool = False,
    timeout: tuple[float, float] = (3.0, 10.0),
    budget_seconds: float = 30.0,
    max_attempts: int = 4,
    backoff_seconds: float = 0.5,
) -> list[str]:
    """POST a triggers payload for ``job_id``; return the created job ids (expects 201).

    Retrying is safe: the coordinator finds-or-creates the workflow by (parent job,
    ``operation_id``), so a payload that arrives twice creates its jobs once.
    """
    if not isinstance(job_id, str) or not job_id or job_id in {".", ".."}:
        raise CapabilityError("cannot submit triggers: the job id is empty or invalid")
    transport = Transport(
        base_url,
        token,
        allow_insecure_transport=allow_insecure_transport,
        timeout=timeout,
        budget_seconds=budget_seconds,
        max_attempts=max_attempts,
        backoff_seconds=backoff_seconds,
    )
    action = "submitting triggers"
    try:
        data = transport.request_json(
            "POST",
            f"/api/v1/jobs/{quote(job_id, safe='')}/triggers",
            body=bytes(payload_bytes),
            action=action,
            right=_SUBMIT_RIGHT,
            expected=201,
        )
    finally:
        transport.close()
    created = data.get("created_job_ids") if isinstance(data, dict) else None
    if not isinstance(created, list) or not all(isinstance(i, str) for i in created):
        raise transport.fail(
            f"answered with an unexpected shape while {action}: "
            "expected an object with a list of strings 'created_job_ids'"
        )
    return list(created)
