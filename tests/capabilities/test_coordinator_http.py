"""HttpJobState and submit_triggers against a real local HTTP(S) fake coordinator.

Answers, paging, scopes, permanent errors and transport rules; retries, time budgets
and injected faults are in test_coordinator_faults.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.http import (
    MAX_RESPONSE_BYTES,
    RUNNING_STATUSES,
    TERMINAL_STATUSES,
    HttpJobState,
    submit_triggers,
)
from tests.support.coordinator_server import FakeCoordinator

TOKEN = "tok-SECRET-123"
JOBS_PATH = "/api/v1/jobs"
ALL_STATUSES = RUNNING_STATUSES + TERMINAL_STATUSES
REPO_ROOT = Path(__file__).resolve().parents[2]


def state_for(server: FakeCoordinator, **kwargs: Any) -> HttpJobState:
    """A client of `server`; permanent errors are tested here, so nothing is retried."""
    if server.url.startswith("http://"):
        kwargs.setdefault("allow_insecure_transport", True)
    kwargs.setdefault("max_attempts", 1)
    return HttpJobState(server.url, server.token, **kwargs)


def list_requests(server: FakeCoordinator, status: str | None = None) -> list[dict[str, str]]:
    """The query of every job listing request (single values), optionally for one status."""
    found = []
    for request in server.requests_to(JOBS_PATH):
        query = {key: values[-1] for key, values in request.query.items()}
        if status is None or query.get("status") == status:
            found.append(query)
    return found


def full_message(error: BaseException) -> str:
    """The text a user could see: the message and the whole printed traceback."""
    return str(error) + "".join(traceback.format_exception(error))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- running and results ---------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_running_and_result_follow_status(coordinator: FakeCoordinator, status: str) -> None:
    coordinator.add_job("build", status, job_id="job-1", exit_code=0)
    coordinator.add_job("other", "running")
    state = state_for(coordinator)

    assert state.is_job_running("build") is (status in RUNNING_STATUSES)
    result = state.get_job_result("build")
    if status in TERMINAL_STATUSES:
        assert result is not None
        assert result["job_id"] == "job-1"
        assert result["status"] == status
    else:
        assert result is None
    assert state.is_job_running("missing") is False
    assert state.get_job_result("missing") is None


def _job(job_id: str, status: str = "completed", **fields: Any) -> dict[str, Any]:
    return {"job_id": job_id, "name": "deploy", "status": status, **fields}


RESULT_CASES: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "latest completed_at wins",
        [
            _job("a", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-02T09:00:00Z"),
            _job("b", completed_at="2025-01-03T10:00:00Z", created_at="2025-01-01T09:00:00Z"),
            _job("c", completed_at="2025-01-01T10:00:00Z", created_at="2025-01-03T09:00:00Z"),
        ],
        "b",
    ),
    (
        "newest across terminal statuses",
        [
            _job("ok", "completed", completed_at="2025-01-01T10:00:00Z"),
            _job("bad", "failed", completed_at="2025-01-05T10:00:00Z"),
            _job("slow", "timeout", completed_at="2025-01-04T10:00:00Z"),
            _job("stop", "cancelled", completed_at="2025-01-03T10:00:00Z"),
        ],
        "bad",
    ),
    (
        "completed_at tie falls back to created_at",
        [
            _job("a", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-02T09:00:00Z"),
            _job("b", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-02T08:00:00Z"),
        ],
        "a",
    ),
    (
        "full tie picks the larger job_id",
        [
            _job("job-2", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-01T00:00:00Z"),
            _job("job-9", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-01T00:00:00Z"),
            _job("job-5", completed_at="2025-01-02T10:00:00Z", created_at="2025-01-01T00:00:00Z"),
        ],
        "job-9",
    ),
    (
        "fractional seconds compare as instants",
        [
            _job("late", completed_at="2025-01-02T10:00:00.5Z"),
            _job("early", completed_at="2025-01-02T10:00:00Z"),
        ],
        "late",
    ),
    (
        "a job without completed_at loses to one with it",
        [
            _job("none", created_at="2025-01-09T00:00:00Z"),
            _job("dated", completed_at="2025-01-01T00:00:00Z"),
        ],
        "dated",
    ),
]


@pytest.mark.parametrize(
    ("jobs", "expected"), [(j, e) for _, j, e in RESULT_CASES], ids=[c[0] for c in RESULT_CASES]
)
def test_result_is_most_recent(
    coordinator: FakeCoordinator, jobs: list[dict[str, Any]], expected: str
) -> None:
    coordinator.jobs.extend(jobs)
    coordinator.add_job("unrelated", "completed", completed_at="2030-01-01T00:00:00Z")
    result = state_for(coordinator).get_job_result("deploy")
    assert result is not None
    assert result["job_id"] == expected


def test_result_has_exactly_the_documented_keys(coordinator: FakeCoordinator) -> None:
    coordinator.add_job(
        "deploy",
        "failed",
        job_id="j-1",
        exit_code=3,
        started_at="2025-01-01T00:00:01Z",
        completed_at="2025-01-01T00:00:09Z",
        source_ref="main",
        priority=5,
    )
    coordinator.add_job("lint", "completed", job_id="j-2")
    state = state_for(coordinator)
    assert state.get_job_result("deploy") == {
        "job_id": "j-1",
        "name": "deploy",
        "status": "failed",
        "exit_code": 3,
        "started_at": "2025-01-01T00:00:01Z",
        "completed_at": "2025-01-01T00:00:09Z",
    }
    lint = state.get_job_result("lint")
    assert lint is not None
    assert lint["exit_code"] is None
    assert lint["completed_at"] is None


# --- paging and caching ----------------------------------------------------------


def test_job_found_only_on_third_page(coordinator: FakeCoordinator) -> None:
    coordinator.add_job("needle", "queued")  # oldest: listed last
    for number in range(24):
        coordinator.add_job(f"hay-{number}", "queued")
    state = state_for(coordinator, page_size=10)

    assert state.is_job_running("needle") is True
    queued = list_requests(coordinator, "queued")
    assert [(q["offset"], q["limit"]) for q in queued] == [("0", "10"), ("10", "10"), ("20", "10")]


@pytest.mark.parametrize(("count", "pages"), [(25, 3), (20, 3), (9, 1), (0, 1)])
def test_paging_ends_at_a_short_page_whatever_total_says(
    coordinator: FakeCoordinator, count: int, pages: int
) -> None:
    # Some coordinator versions report the page's length as `total`: trusting it would
    # stop after the first full page and miss the oldest jobs.
    coordinator.page_length_total = True
    for number in range(count):
        coordinator.add_job(f"job-{number}", "running")
    state = state_for(coordinator, page_size=10)

    assert state.is_job_running("job-0") is (count > 0)
    offsets = [q["offset"] for q in list_requests(coordinator, "running")]
    assert offsets == [str(10 * page) for page in range(pages)]


def test_paging_follows_the_limit_the_coordinator_applied(
    coordinator: FakeCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A coordinator that serves fewer jobs per page than asked (and says so) is paged
    # by what it applied, not by what was asked.
    monkeypatch.setattr("tests.support.coordinator_server.MAX_LIMIT", 5)
    monkeypatch.setattr("tests.support.coordinator_server.DEFAULT_LIMIT", 5)
    coordinator.add_job("needle", "queued")
    for number in range(7):
        coordinator.add_job(f"hay-{number}", "queued")
    state = state_for(coordinator, page_size=10)

    assert state.is_job_running("needle") is True
    assert [q["offset"] for q in list_requests(coordinator, "queued")] == ["0", "5"]


@pytest.mark.parametrize("page_size", [0, 101])
def test_page_size_must_fit_the_coordinator(page_size: int) -> None:
    with pytest.raises(CapabilityError, match="between 1 and 100"):
        HttpJobState("https://127.0.0.1:1", TOKEN, page_size=page_size)


def test_page_cap_is_enforced(coordinator: FakeCoordinator) -> None:
    for number in range(30):
        coordinator.add_job(f"job-{number}", "submitted")
    state = state_for(coordinator, page_size=10, max_pages=2)
    with pytest.raises(CapabilityError, match=r"max_pages=2") as caught:
        state.is_job_running("absent")
    assert "more than 2 pages" in str(caught.value)
    assert 'narrow the scope' in str(caught.value)
    assert len(list_requests(coordinator, "submitted")) == 3
    with pytest.raises(CapabilityError, match=r"max_pages=2"):
        state.is_job_running("other")  # the failure is remembered, not retried
    assert len(list_requests(coordinator, "submitted")) == 3


def test_a_full_last_page_within_the_cap_is_an_answer(coordinator: FakeCoordinator) -> None:
    for number in range(20):
        coordinator.add_job(f"job-{number}", "submitted")
    state = state_for(coordinator, page_size=10, max_pages=2)
    assert state.is_job_running("job-19") is True
    # two full pages, then one that shows there is no more
    assert len(list_requests(coordinator, "submitted")) == 3


def test_many_names_cost_one_scan_per_status(coordinator: FakeCoordinator) -> None:
    names = [f"job-{n}" for n in range(50)]
    for index, name in enumerate(names):
        coordinator.add_job(name, ALL_STATUSES[index % len(ALL_STATUSES)])
    state = state_for(coordinator)

    for index, name in enumerate(names):
        expected_status = ALL_STATUSES[index % len(ALL_STATUSES)]
        assert state.is_job_running(name) is (expected_status in RUNNING_STATUSES)
        result = state.get_job_result(name)
        assert (result is not None) is (expected_status in TERMINAL_STATUSES)
        assert state.is_job_running(f"absent-{name}") is False
        assert state.get_job_result(f"absent-{name}") is None

    listed = sorted(q["status"] for q in list_requests(coordinator))
    assert listed == sorted(ALL_STATUSES)
    assert len(coordinator.requests) == len(ALL_STATUSES)


def test_each_question_lists_only_its_own_status_set(coordinator: FakeCoordinator) -> None:
    coordinator.add_job("build", "submitted")
    state = state_for(coordinator)

    assert state.is_job_running("build") is True
    assert [q["status"] for q in list_requests(coordinator)] == list(RUNNING_STATUSES)
    assert state.get_job_result("build") is None
    assert [q["status"] for q in list_requests(coordinator)] == list(ALL_STATUSES)


def test_jobs_outside_the_asked_status_or_scope_are_ignored(
    coordinator: FakeCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A coordinator that does not know a filter ignores it and lists everything; the
    # client must not read that as an answer.
    coordinator.add_job("deploy", "completed", workflow_id="wf-9")
    monkeypatch.setattr(FakeCoordinator, "_list_jobs", _unfiltered_listing)
    state = state_for(coordinator, workflow_id="wf-1")

    assert state.is_job_running("deploy", "workflow") is False
    assert state.get_job_result("deploy", "workflow") is None
    assert state.is_job_running("deploy", "all") is False
    assert state.get_job_result("deploy", "all") is not None


def _unfiltered_listing(
    self: FakeCoordinator, query: dict[str, list[str]]
) -> tuple[int, Any]:
    with self.lock:
        jobs = list(self.jobs)
    return 200, {"jobs": jobs, "total": len(jobs), "limit": 100, "offset": 0}


# --- scopes --------------------------------------------------------------------------


@pytest.fixture
def scoped_jobs(coordinator: FakeCoordinator) -> FakeCoordinator:
    """This ingest job (project p-1, workflow wf-1) and deploys around it."""
    coordinator.add_job("ingest", "running", job_id="self", project_id="p-1",
                        workflow_id="wf-1")
    coordinator.add_job("deploy", "running", job_id="d-push-1", project_id="p-1",
                        workflow_id="wf-0")
    coordinator.add_job("deploy", "completed", job_id="d-other", project_id="p-2",
                        workflow_id="wf-7", completed_at="2025-01-09T00:00:00Z")
    coordinator.add_job("test", "completed", job_id="t-here", project_id="p-1",
                        workflow_id="wf-1", completed_at="2025-01-01T00:00:00Z")
    coordinator.add_job("test", "failed", job_id="t-push-1", project_id="p-1",
                        workflow_id="wf-0", completed_at="2025-01-02T00:00:00Z")
    return coordinator


def test_default_scope_is_the_project_of_this_job(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, job_id="self", workflow_id="wf-1")

    assert state.default_scope == "project"
    # The deploy started by an earlier push (another workflow) is seen ...
    assert state.is_job_running("deploy") is True
    # ... and another project's jobs are not.
    assert state.get_job_result("deploy") is None
    result = state.get_job_result("test")
    assert result is not None and result["job_id"] == "t-push-1"
    [lookup] = scoped_jobs.requests_to("/api/v1/jobs/self")
    assert lookup.method == "GET"
    assert {q.get("project_id") for q in list_requests(scoped_jobs)} == {"p-1"}


def test_the_project_is_looked_up_once(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, job_id="self")
    for name in ("deploy", "test", "lint"):
        state.is_job_running(name)
        state.get_job_result(name, "project")
    assert len(scoped_jobs.requests_to("/api/v1/jobs/self")) == 1
    assert len(list_requests(scoped_jobs)) == len(ALL_STATUSES)


def test_workflow_scope(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, job_id="self", workflow_id="wf-1")

    assert state.is_job_running("deploy", "workflow") is False
    result = state.get_job_result("test", "workflow")
    assert result is not None and result["job_id"] == "t-here"
    assert {q.get("workflow_id") for q in list_requests(scoped_jobs)} == {"wf-1"}
    assert scoped_jobs.requests_to("/api/v1/jobs/self") == []


def test_all_scope_sees_every_visible_job(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, job_id="self")

    result = state.get_job_result("deploy", "all")
    assert result is not None and result["job_id"] == "d-other"
    assert all("project_id" not in q and "workflow_id" not in q
               for q in list_requests(scoped_jobs))


def test_without_a_job_id_the_default_is_all(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, workflow_id="wf-1")

    assert state.default_scope == "all"
    result = state.get_job_result("deploy")
    assert result is not None and result["job_id"] == "d-other"


def test_a_known_project_id_needs_no_lookup(scoped_jobs: FakeCoordinator) -> None:
    state = state_for(scoped_jobs, project_id="p-2")
    assert state.default_scope == "project"
    assert state.get_job_result("deploy") is not None
    assert scoped_jobs.requests_to("/api/v1/jobs/self") == []


@pytest.mark.parametrize(
    ("kwargs", "scope", "fragments"),
    [
        ({}, "workflow", ['scope "workflow"', "RC_WF_ID is not set"]),
        ({}, "project", ['scope "project"', "REACTORCIDE_JOB_ID is not set"]),
        ({"job_id": "unknown"}, "project", ["HTTP 404", "looking up the project"]),
        ({"job_id": "orphan"}, None, ["belongs to no project", 'scope = "workflow"']),
        ({}, "everything", ["unknown scope 'everything'"]),
    ],
)
def test_scope_that_cannot_be_honoured_is_an_error(
    scoped_jobs: FakeCoordinator, kwargs: dict[str, str], scope: str | None,
    fragments: list[str],
) -> None:
    scoped_jobs.add_job("ingest", "running", job_id="orphan", project_id=None)
    state = state_for(scoped_jobs, **kwargs)
    for ask in (state.is_job_running, state.get_job_result):
        with pytest.raises(CapabilityError) as caught:
            ask("deploy", scope)
        for fragment in fragments:
            assert fragment in str(caught.value)
    assert list_requests(scoped_jobs) == []


def test_every_request_carries_the_bearer_token(coordinator: FakeCoordinator) -> None:
    state = state_for(coordinator)
    state.is_job_running("x")
    state.get_job_result("x")
    assert coordinator.requests
    assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in coordinator.requests)


# --- HTTP errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fragments"),
    [
        (401, ["401", "refused the API token", "jobs:read"]),
        (403, ["403", "lacks the right to read jobs (jobs:read)", "may only submit"]),
        (500, ["HTTP 500", "database down", "gave up after 1 attempt"]),
        (404, ["HTTP 404", "expected 200", "database down"]),
        (204, ["HTTP 204"]),
    ],
)
def test_http_error_statuses(
    coordinator: FakeCoordinator, status: int, fragments: list[str]
) -> None:
    coordinator.add_job("build", "running")
    coordinator.enqueue_fault(status, json.dumps({"error": "database down"}))
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert f"127.0.0.1:{coordinator.port}" in message
    assert "not running" not in message


def test_wrong_token_is_reported_as_refused(coordinator: FakeCoordinator) -> None:
    state = HttpJobState(coordinator.url, "tok-WRONG-456")  # with retries: 401 is final
    with pytest.raises(CapabilityError, match="401") as caught:
        state.is_job_running("build")
    assert "tok-WRONG-456" not in full_message(caught.value)
    assert len(coordinator.requests) == 1


def test_redirect_is_refused_and_not_followed(
    coordinator: FakeCoordinator, http_coordinator: FakeCoordinator
) -> None:
    coordinator.enqueue_fault(302, headers={"Location": f"{http_coordinator.url}/api/v1/jobs"})
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    message = str(caught.value)
    assert "redirected (302)" in message
    assert "redirects that leave https or change host are refused" in message
    assert f"http://127.0.0.1:{http_coordinator.port}" in message
    assert len(coordinator.requests) == 1
    assert http_coordinator.requests == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("{not json", "malformed JSON"),
        (b"\xff\xfe\x00", "malformed JSON"),
        ("[]", "expected a JSON object"),
        ('{"jobs": 5, "total": 1}', "'jobs' is not a list"),
        ('{"jobs": [{"name": "b", "status": 7}], "total": 1}', "'status'"),
        ('{"jobs": ["x"], "total": 1}', "jobs[0] is not an object"),
        ('{"jobs": [{"job_id": "1"}], "total": 1}', "no string 'name'"),
        ('{"jobs": [{"name": "b", "exit_code": "0"}], "total": 1}', "'exit_code'"),
        ("{}", "no 'jobs' list"),
        ('{"error": "maintenance"}', "no 'jobs' list"),
        ('{"jobs": [' + "[" * 100_000, "nested too deep"),
        ('{"jobs": [{"name": "b", "exit_code": ' + "9" * 5000 + "}]}", "malformed JSON"),
    ],
)
def test_malformed_answers(coordinator: FakeCoordinator, body: str | bytes, fragment: str) -> None:
    coordinator.enqueue_fault(200, body, {"Content-Type": "application/json"})
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    assert fragment in str(caught.value)


def test_jobs_null_is_an_empty_list(coordinator: FakeCoordinator) -> None:
    # How a Go coordinator encodes an empty slice.
    for _ in RUNNING_STATUSES:
        coordinator.enqueue_fault(200, '{"jobs": null, "total": 0}')
    assert state_for(coordinator).is_job_running("build") is False


@pytest.mark.parametrize("framing", ["content-length", "until-close", "chunked"])
def test_oversized_answer_is_cut_off(coordinator: FakeCoordinator, framing: str) -> None:
    body = b'{"jobs": [' + b" " * MAX_RESPONSE_BYTES + b"]}"
    coordinator.enqueue_fault(200, body, omit_content_length=framing == "until-close",
                              chunked=framing == "chunked")
    with pytest.raises(CapabilityError, match="larger than 16 MiB"):
        state_for(coordinator).is_job_running("build")


# --- transport rules ---------------------------------------------------------------


def test_plain_http_is_refused_and_nothing_is_sent(http_coordinator: FakeCoordinator) -> None:
    with pytest.raises(CapabilityError) as caught:
        HttpJobState(http_coordinator.url, TOKEN)
    message = str(caught.value)
    assert "plain http" in message
    assert "refused" in message
    assert "--allow-insecure-transport" in message
    with pytest.raises(CapabilityError, match="--allow-insecure-transport"):
        submit_triggers(http_coordinator.url, TOKEN, "job-1", b"{}")
    assert http_coordinator.requests == []


def test_plain_http_allowed_with_the_flag(http_coordinator: FakeCoordinator) -> None:
    http_coordinator.add_job("build", "cancelling")
    state = HttpJobState(http_coordinator.url, TOKEN, allow_insecure_transport=True)
    assert state.is_job_running("build") is True
    assert http_coordinator.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("ftp://127.0.0.1/", "https://"),
        ("127.0.0.1:8443", "https://"),
        ("https://", "no host"),
        ("https://127.0.0.1:notaport", "malformed"),
        ("https://127.0.0.1:99999", "malformed"),
        ("https://user:pw@127.0.0.1", "credentials"),
        ("https://127.0.0.1/?x=1", "query"),
        ("https://127.0.0.1 /", "whitespace"),
    ],
)
def test_bad_urls(url: str, fragment: str) -> None:
    with pytest.raises(CapabilityError, match=fragment):
        HttpJobState(url, TOKEN)


@pytest.mark.parametrize("token", ["", " SECRET", "SECRET\r\nX-Evil: 1", "SEC RET", "SECRET\x00",
                                   "SEC\u2603RET", "SECR\xe9T"])
def test_bad_tokens_are_refused_without_echo(token: str) -> None:
    with pytest.raises(CapabilityError, match="token") as caught:
        HttpJobState("https://127.0.0.1:1", token)
    assert "SECRET" not in str(caught.value)
    assert "SEC" not in str(caught.value)


def test_connection_refused_is_retried_then_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    port = free_port()
    state = HttpJobState(f"https://127.0.0.1:{port}", TOKEN, backoff_seconds=0.01)
    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert "connection refused" in message
    assert "gave up after 4 attempts" in message
    assert f"127.0.0.1:{port}" in message
    assert state.requests_sent == 4


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    state = HttpJobState("https://coordinator.invalid", TOKEN)
    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert state.requests_sent == 1  # not worth retrying
    assert "DNS lookup failed" in message
    assert "coordinator.invalid:443" in message


def test_unknown_certificate_authority_is_a_tls_error(
    coordinator: FakeCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    state = state_for(coordinator, max_attempts=4)
    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert state.requests_sent == 1  # not worth retrying
    assert "TLS failure" in message
    assert "certificate verification failed" in message
    assert f"127.0.0.1:{coordinator.port}" in message
    assert coordinator.requests == []


def test_requests_is_imported_lazily() -> None:
    code = (
        "import sys, engine.capabilities.coordinator.http as m\n"
        "m.HttpJobState('https://127.0.0.1:1', 'tok')\n"
        "print('requests' in sys.modules, 'ssl' in sys.modules, 'datetime' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False", "False"]


# --- submit_triggers -------------------------------------------------------------


def _payload(operation_id: str = "op-7", jobs: int = 2) -> bytes:
    body = {
        "type": "trigger_job",
        "operation_id": operation_id,
        "jobs": [{"job_name": f"child-{n}"} for n in range(jobs)],
    }
    return json.dumps(body).encode()


def test_submit_triggers_created(coordinator: FakeCoordinator) -> None:
    coordinator.add_job("ingest", "running", job_id="parent-1")
    payload = _payload("op-7", jobs=3)

    created = submit_triggers(coordinator.url, TOKEN, "parent-1", payload)

    assert created == ["op-7-0", "op-7-1", "op-7-2"]
    [submission] = coordinator.triggers_received
    assert submission.job_id == "parent-1"
    assert submission.body == payload
    [request] = coordinator.requests_to("/api/v1/jobs/parent-1/triggers", "POST")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("fault", "fragments"),
    [
        ((400, '{"error": "bad trigger payload"}'), ["HTTP 400", "bad trigger payload"]),
        ((200, '{"created_job_ids": ["a"], "count": 1}'), ["HTTP 200", "expected 201"]),
        ((403, ""), ["jobs:submit", "403"]),
        ((401, ""), ["jobs:submit", "401"]),
        ((201, '{"created_job_ids": "a"}'), ["unexpected shape"]),
        ((201, "nope"), ["malformed JSON"]),
        ((307, ""), ["redirected (307)"]),
    ],
)
def test_submit_triggers_failures(
    coordinator: FakeCoordinator, fault: tuple[int, str], fragments: list[str]
) -> None:
    coordinator.add_job("ingest", "running", job_id="parent-1")
    coordinator.enqueue_fault(*fault)
    with pytest.raises(CapabilityError) as caught:
        submit_triggers(coordinator.url, TOKEN, "parent-1", _payload())
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert coordinator.triggers_received == []


def test_submit_triggers_unknown_parent(coordinator: FakeCoordinator) -> None:
    with pytest.raises(CapabilityError, match="HTTP 404"):
        submit_triggers(coordinator.url, TOKEN, "no-such-job", _payload())


def test_submit_triggers_escapes_the_job_id(coordinator: FakeCoordinator) -> None:
    coordinator.enqueue_fault(201, '{"created_job_ids": [], "count": 0}')
    assert submit_triggers(coordinator.url, TOKEN, "../../x?y", _payload()) == []
    assert coordinator.requests[0].path == "/api/v1/jobs/..%2F..%2Fx%3Fy/triggers"


# --- the token never leaks ---------------------------------------------------------

Scenario = Callable[[FakeCoordinator], None]


def _listing(server: FakeCoordinator) -> None:
    state_for(server).is_job_running("build")  # one attempt, so the fault is the answer


def _submitting(server: FakeCoordinator) -> None:
    submit_triggers(server.url, server.token, "parent-1", _payload(), max_attempts=1)


LEAK_CASES: list[tuple[str, tuple[int, str, dict[str, str]], Scenario]] = [
    ("500 echoing the token", (500, f"bad token {TOKEN}", {}), _listing),
    ("401 echoing the header", (401, f"Authorization: Bearer {TOKEN}", {}), _listing),
    ("403 on submit", (403, f"token {TOKEN} lacks jobs:submit", {}), _submitting),
    (
        "redirect carrying the token",
        (302, "", {"Location": f"http://{TOKEN}.example/?t={TOKEN}"}),
        _listing,
    ),
    ("malformed JSON with the token", (200, f"{{{TOKEN}", {}), _listing),
    ("wrong shape", (201, json.dumps({"created_job_ids": TOKEN}), {}), _submitting),
]


@pytest.mark.parametrize(
    ("fault", "scenario"), [(f, s) for _, f, s in LEAK_CASES], ids=[c[0] for c in LEAK_CASES]
)
def test_token_never_in_messages(
    coordinator: FakeCoordinator, fault: tuple[int, str, dict[str, str]], scenario: Scenario
) -> None:
    coordinator.enqueue_fault(fault[0], fault[1], fault[2])
    with pytest.raises(CapabilityError) as caught:
        scenario(coordinator)
    assert TOKEN not in full_message(caught.value)
    assert "SECRET" not in full_message(caught.value)


def test_token_never_in_transport_failures(
    coordinator: FakeCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages: list[str] = []
    for url in (f"https://127.0.0.1:{free_port()}", "https://coordinator.invalid"):
        with pytest.raises(CapabilityError) as caught:
            HttpJobState(url, TOKEN, backoff_seconds=0.01).is_job_running("build")
        messages.append(full_message(caught.value))
    with pytest.raises(CapabilityError) as caught:
        HttpJobState(f"http://127.0.0.1:{free_port()}", TOKEN)
    messages.append(full_message(caught.value))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).get_job_result("build")
    messages.append(full_message(caught.value))
    assert len(messages) == 4
    for message in messages:
        assert TOKEN not in message
