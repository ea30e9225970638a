"""HttpJobState and submit_triggers against a real local HTTP(S) fake coordinator."""

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
from engine.capabilities.coordinator_http import (
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
    if server.url.startswith("http://"):
        kwargs.setdefault("allow_insecure_transport", True)
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


def test_paging_stops_when_offset_reaches_total(coordinator: FakeCoordinator) -> None:
    for number in range(20):
        coordinator.add_job(f"job-{number}", "running")
    state = state_for(coordinator, page_size=10)
    assert state.is_job_running("job-0") is True
    assert len(list_requests(coordinator, "running")) == 2


def test_page_cap_is_enforced(coordinator: FakeCoordinator) -> None:
    for number in range(30):
        coordinator.add_job(f"job-{number}", "submitted")
    state = state_for(coordinator, page_size=10, max_pages=2)
    with pytest.raises(CapabilityError, match=r"max_pages=2") as caught:
        state.is_job_running("absent")
    assert "more than 2 pages" in str(caught.value)
    assert len(list_requests(coordinator, "submitted")) == 2


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


def test_running_scan_stops_at_the_first_status_that_matches(
    coordinator: FakeCoordinator,
) -> None:
    coordinator.add_job("build", "submitted")
    state = state_for(coordinator)
    assert state.is_job_running("build") is True
    assert [q["status"] for q in list_requests(coordinator)] == ["submitted"]


def test_workflow_id_filter(coordinator: FakeCoordinator) -> None:
    coordinator.add_job("build", "running", workflow_id="wf-2")
    coordinator.add_job("test", "running", workflow_id="wf-1")
    coordinator.add_job("deploy", "completed", workflow_id="wf-2")
    scoped = state_for(coordinator, workflow_id="wf-1")

    assert scoped.is_job_running("build") is False
    assert scoped.is_job_running("test") is True
    assert scoped.get_job_result("deploy") is None
    assert {q.get("workflow_id") for q in list_requests(coordinator)} == {"wf-1"}

    unscoped = state_for(coordinator)
    assert unscoped.is_job_running("build") is True
    assert "workflow_id" not in list_requests(coordinator)[-1]


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
        (403, ["403", "lacks the right to read jobs (jobs:read)"]),
        (500, ["HTTP 500", "expected 200", "database down"]),
        (404, ["HTTP 404"]),
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
    state = HttpJobState(coordinator.url, "tok-WRONG-456")
    with pytest.raises(CapabilityError, match="401") as caught:
        state.is_job_running("build")
    assert "tok-WRONG-456" not in full_message(caught.value)


def test_redirect_is_refused_and_not_followed(
    coordinator: FakeCoordinator, http_coordinator: FakeCoordinator
) -> None:
    coordinator.enqueue_fault(302, headers={"Location": f"{http_coordinator.url}/api/v1/jobs"})
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    message = str(caught.value)
    assert "redirected (302)" in message
    assert "redirects are refused" in message
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
        ('{"jobs": [], "total": "many"}', "'total' is not an integer"),
        ('{"jobs": ["x"], "total": 1}', "jobs[0] is not an object"),
        ('{"jobs": [{"job_id": "1"}], "total": 1}', "no string 'name'"),
        ('{"jobs": [{"name": "b", "exit_code": "0"}], "total": 1}', "'exit_code'"),
    ],
)
def test_malformed_answers(coordinator: FakeCoordinator, body: str | bytes, fragment: str) -> None:
    coordinator.enqueue_fault(200, body, {"Content-Type": "application/json"})
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    assert fragment in str(caught.value)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "until-close"])
def test_oversized_answer_is_cut_off(coordinator: FakeCoordinator, declare_length: bool) -> None:
    body = b'{"jobs": [' + b" " * MAX_RESPONSE_BYTES + b"]}"
    coordinator.enqueue_fault(200, body, omit_content_length=not declare_length)
    with pytest.raises(CapabilityError, match="larger than 16 MiB"):
        state_for(coordinator).is_job_running("build")


def test_read_timeout(coordinator: FakeCoordinator) -> None:
    coordinator.enqueue_fault(200, '{"jobs": [], "total": 0}', delay=1.0)
    state = state_for(coordinator, timeout=(2.0, 0.2))
    with pytest.raises(CapabilityError, match=r"did not answer within 0\.2s \(read timeout\)"):
        state.is_job_running("build")


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


@pytest.mark.parametrize("token", ["", " SECRET", "SECRET\r\nX-Evil: 1", "SEC RET", "SECRET\x00"])
def test_bad_tokens_are_refused_without_echo(token: str) -> None:
    with pytest.raises(CapabilityError, match="token") as caught:
        HttpJobState("https://127.0.0.1:1", token)
    assert "SECRET" not in str(caught.value)
    assert "SEC" not in str(caught.value)


def test_connection_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    port = free_port()
    with pytest.raises(CapabilityError) as caught:
        HttpJobState(f"https://127.0.0.1:{port}", TOKEN).is_job_running("build")
    message = str(caught.value)
    assert "connection refused" in message
    assert f"127.0.0.1:{port}" in message


def test_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CapabilityError) as caught:
        HttpJobState("https://coordinator.invalid", TOKEN).is_job_running("build")
    message = str(caught.value)
    assert "DNS lookup failed" in message
    assert "coordinator.invalid:443" in message


def test_unknown_certificate_authority_is_a_tls_error(
    coordinator: FakeCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    message = str(caught.value)
    assert "TLS failure" in message
    assert "certificate verification failed" in message
    assert f"127.0.0.1:{coordinator.port}" in message
    assert coordinator.requests == []


def test_requests_is_imported_lazily() -> None:
    code = (
        "import sys, engine.capabilities.coordinator_http as m\n"
        "m.HttpJobState('https://127.0.0.1:1', 'tok')\n"
        "print('requests' in sys.modules, 'ssl' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


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
        ((503, "busy"), ["HTTP 503", "busy"]),
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
    state_for(server).is_job_running("build")


def _submitting(server: FakeCoordinator) -> None:
    submit_triggers(server.url, server.token, "parent-1", _payload())


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
            HttpJobState(url, TOKEN).is_job_running("build")
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
