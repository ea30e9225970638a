"""The coordinator client under injected faults: retries, Retry-After, time budgets,
redirects, and what is never retried. Against the real HTTPS fake on 127.0.0.1.

Waits between retries go through a recorder (``waits``) so that tests can check what
was asked for without asserting on elapsed time; the recorder really sleeps unless a
test says otherwise.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import pytest

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator import transport as coordinator_transport
from engine.capabilities.coordinator.http import (
    MAX_RESPONSE_BYTES,
    RUNNING_STATUSES,
    HttpJobState,
    budget_for,
    submit_triggers,
)
from tests.support.coordinator_server import FakeCoordinator

TOKEN = "tok-SECRET-123"
JOBS_PATH = "/api/v1/jobs"
EMPTY_PAGE = '{"jobs": [], "total": 0, "limit": 100, "offset": 0}'


class Waits:
    """Records every wait between retries; sleeps for real when ``real`` is set."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.real = True

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        if self.real:
            time.sleep(seconds)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Waits]:
    recorder = Waits()
    monkeypatch.setattr(coordinator_transport, "_sleep", recorder)
    yield recorder


def state_for(server: FakeCoordinator, **kwargs: Any) -> HttpJobState:
    kwargs.setdefault("backoff_seconds", 0.05)
    return HttpJobState(server.url, server.token, **kwargs)


def first_status_requests(server: FakeCoordinator) -> list[str]:
    """The status of each listing request, in order."""
    return [r.query["status"][-1] for r in server.requests_to(JOBS_PATH)]


def _chain(error: BaseException) -> list[BaseException]:
    linked: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        linked.append(current)
        current = current.__cause__ or current.__context__
    return linked


# --- retried: 5xx, 429, resets, timeouts -------------------------------------------------


def test_500s_then_success(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("build", "submitted")
    coordinator.enqueue_fault(500, "database down")
    coordinator.enqueue_fault(502, "bad gateway")
    state = state_for(coordinator)

    assert state.is_job_running("build") is True
    assert first_status_requests(coordinator)[:3] == ["submitted"] * 3
    assert state.requests_sent == 3 + len(RUNNING_STATUSES) - 1
    assert len(waits.asked) == 2
    # Exponential backoff with jitter: each wait lies in [backoff/2, backoff].
    assert 0.025 <= waits.asked[0] <= 0.05
    assert 0.05 <= waits.asked[1] <= 0.1


def test_persistent_5xx_gives_up_after_the_attempts(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    for _ in range(4):
        coordinator.enqueue_fault(503, '{"error": "maintenance"}')
    state = state_for(coordinator)

    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert "HTTP 503" in message and "maintenance" in message
    assert "gave up after 4 attempts" in message
    assert "not running" not in message
    assert state.requests_sent == 4
    assert len(waits.asked) == 3


def test_jitter_changes_timing_never_the_message(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    waits.real = False
    messages = []
    for _ in range(3):
        for _ in range(4):
            coordinator.enqueue_fault(500, "flaky")
        with pytest.raises(CapabilityError) as caught:
            state_for(coordinator, backoff_seconds=1.0).get_job_result("build")
        messages.append(str(caught.value))
    assert len(set(messages)) == 1
    assert len(set(waits.asked)) > 1  # the waits themselves did vary


def test_429_retry_after_is_respected(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("build", "submitted")
    coordinator.enqueue_fault(429, "slow down", {"Retry-After": "1"})
    state = state_for(coordinator)

    assert state.is_job_running("build") is True
    assert waits.asked[0] >= 1.0
    assert first_status_requests(coordinator)[:2] == ["submitted", "submitted"]


def test_retry_after_as_an_http_date(coordinator: FakeCoordinator, waits: Waits) -> None:
    waits.real = False
    when = formatdate(time.time() + 3, usegmt=True)
    coordinator.enqueue_fault(503, "", {"Retry-After": when})
    assert state_for(coordinator).is_job_running("build") is False
    assert 1.0 <= waits.asked[0] <= 3.0


def test_retry_after_as_a_date_without_a_zone_is_utc(
        coordinator: FakeCoordinator, waits: Waits, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        waits.real = False
        when = formatdate(time.time() + 3).replace("+0000", "-0000")
        coordinator.enqueue_fault(503, "", {"Retry-After": when})
        assert state_for(coordinator).is_job_running("build") is False
        assert 1.0 <= waits.asked[0] <= 3.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_absurd_retry_after_is_just_too_long(coordinator: FakeCoordinator,
                                                waits: Waits) -> None:
    coordinator.enqueue_fault(503, "", {"Retry-After": "9" * 400})
    with pytest.raises(CapabilityError, match="beyond the 7s time budget"):
        state_for(coordinator).is_job_running("build")
    assert waits.asked == []


def test_the_budget_counts_from_the_start_of_the_run(coordinator: FakeCoordinator,
                                                     waits: Waits) -> None:
    # A pipeline that spent its time computing has no budget left for retries.
    coordinator.enqueue_fault(503, "")
    state = state_for(coordinator, budget_seconds=2.0, started=time.monotonic() - 1.99)
    with pytest.raises(CapabilityError, match="2s time budget") as caught:
        state.is_job_running("build")
    assert "not fit" in str(caught.value) or "spent" in str(caught.value)
    assert state.requests_sent <= 1


@pytest.mark.parametrize("padding", [0, 190, 195, 199, 795])
def test_a_token_cut_by_the_excerpt_is_still_scrubbed(coordinator: FakeCoordinator,
                                                      waits: Waits, padding: int) -> None:
    coordinator.enqueue_fault(400, "x" * padding + TOKEN + " tail")
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator).is_job_running("build")
    message = str(caught.value)
    for length in range(4, len(TOKEN) + 1):
        assert TOKEN[:length] not in message, (length, message)


def test_retry_after_beyond_the_budget_fails_at_once(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    coordinator.enqueue_fault(429, "", {"Retry-After": "30"})
    state = state_for(coordinator, budget_seconds=2.0)

    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert "HTTP 429" in message
    assert "asked to retry after 30s, beyond the 2s time budget" in message
    assert waits.asked == []
    assert state.requests_sent == 1


def test_connection_reset_then_success(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("build", "queued")
    coordinator.enqueue_reset()
    state = state_for(coordinator)

    assert state.is_job_running("build") is True
    assert len(waits.asked) == 1
    assert first_status_requests(coordinator)[:2] == ["submitted", "submitted"]


def test_connection_resets_are_reported_as_such(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    for _ in range(2):
        coordinator.enqueue_reset()
    with pytest.raises(CapabilityError) as caught:
        state_for(coordinator, max_attempts=2).is_job_running("build")
    message = str(caught.value)
    assert "connection failed" in message
    assert "gave up after 2 attempts" in message


def test_answer_slower_than_the_read_timeout_is_retried(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    coordinator.add_job("build", "submitted")
    coordinator.enqueue_fault(200, EMPTY_PAGE, delay=1.0)
    state = state_for(coordinator, timeout=(2.0, 0.2))

    assert state.is_job_running("build") is True
    assert len(waits.asked) == 1


def test_always_slow_answers_give_up(coordinator: FakeCoordinator, waits: Waits) -> None:
    for _ in range(3):
        coordinator.enqueue_fault(200, EMPTY_PAGE, delay=1.0)
    state = state_for(coordinator, timeout=(2.0, 0.2), max_attempts=3)

    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    message = str(caught.value)
    assert "did not answer within 0.2s (read timeout)" in message
    assert "gave up after 3 attempts" in message


def test_the_budget_bounds_slow_answers(coordinator: FakeCoordinator, waits: Waits) -> None:
    for _ in range(10):
        coordinator.enqueue_fault(200, EMPTY_PAGE, delay=2.0)
    state = state_for(coordinator, timeout=(2.0, 5.0), budget_seconds=0.6, max_attempts=10)

    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    # The read timeout was cut down to what was left of the budget.
    assert "did not finish answering within the 0.6s time budget" in str(caught.value)
    assert state.requests_sent == 1

    sent = state.requests_sent
    with pytest.raises(CapabilityError, match="time budget for coordinator requests is spent"):
        state.get_job_result("build")
    assert state.requests_sent == sent


def test_a_trickling_answer_cannot_outlast_the_budget(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    coordinator.enqueue_fault(200, " " * 400 + EMPTY_PAGE, trickle=0.02)
    state = state_for(coordinator, timeout=(2.0, 1.0), budget_seconds=0.5)

    with pytest.raises(CapabilityError, match=r"did not finish answering within the 0\.5s time"):
        state.is_job_running("build")
    assert state.requests_sent == 1


# --- never retried -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [
        ((401, "no"), "401 Unauthorized"),
        ((403, "no"), "a job's own token may only submit"),
        ((400, "bad"), "HTTP 400"),
        ((200, "{not json"), "malformed JSON"),
        ((200, '{"jobs": 1}'), "unexpected shape"),
    ],
)
def test_answers_retrying_cannot_fix(
    coordinator: FakeCoordinator, waits: Waits, fault: tuple[int, str], fragment: str
) -> None:
    coordinator.enqueue_fault(*fault)
    state = state_for(coordinator)

    with pytest.raises(CapabilityError, match=fragment):
        state.is_job_running("build")
    assert state.requests_sent == 1
    assert waits.asked == []


def test_huge_answer_is_refused_once(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.enqueue_fault(200, b"[" + b"0," * (MAX_RESPONSE_BYTES // 2) + b"0]",
                              omit_content_length=True)
    state = state_for(coordinator)

    with pytest.raises(CapabilityError, match="larger than 16 MiB"):
        state.get_job_result("build")
    assert state.requests_sent == 1


def test_401_and_403_never_read_as_not_running(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    coordinator.add_job("deploy", "running")
    for status in (401, 403):
        coordinator.enqueue_fault(status, "")
        with pytest.raises(CapabilityError) as caught:
            state_for(coordinator).is_job_running("deploy")
        assert "jobs:read" in str(caught.value)
        assert "not running" not in str(caught.value)


# --- redirects ---------------------------------------------------------------------------


def test_a_refused_submission_does_not_blame_a_job_token(coordinator: FakeCoordinator,
                                                        waits: Waits) -> None:
    coordinator.enqueue_fault(403, "")
    with pytest.raises(CapabilityError) as caught:
        submit_triggers(coordinator.url, coordinator.token, "job-1", b"{}")
    assert "jobs:submit" in str(caught.value)
    assert "may only submit" not in str(caught.value)


def test_same_origin_redirect_is_followed(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("build", "submitted")
    target = f"{coordinator.url}/api/v1/jobs?status=submitted&limit=100&offset=0"
    coordinator.enqueue_fault(307, "", {"Location": target})
    state = state_for(coordinator)

    assert state.is_job_running("build") is True
    first, second = coordinator.requests[:2]
    assert first.path == second.path == JOBS_PATH
    assert second.headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("location", "fragment"),
    [
        ("http://127.0.0.1:{port}/api/v1/jobs", "leave https or change host"),
        ("https://localhost:{port}/api/v1/jobs", "leave https or change host"),
        ("https://127.0.0.1:1/api/v1/jobs", "leave https or change host"),
        ("", "without a Location"),
    ],
)
def test_redirect_leaving_https_or_the_host_is_refused(
    coordinator: FakeCoordinator, waits: Waits, location: str, fragment: str
) -> None:
    headers = {"Location": location.format(port=coordinator.port)} if location else {}
    coordinator.enqueue_fault(302, "", headers)
    state = state_for(coordinator)

    with pytest.raises(CapabilityError, match=fragment):
        state.is_job_running("build")
    assert len(coordinator.requests) == 1


def test_redirect_loop_is_cut(coordinator: FakeCoordinator, waits: Waits) -> None:
    for _ in range(4):
        coordinator.enqueue_fault(302, "", {"Location": "/api/v1/jobs"})
    with pytest.raises(CapabilityError, match="redirected more than 3 times"):
        state_for(coordinator).is_job_running("build")


# --- submission ----------------------------------------------------------------------------


def _payload(operation_id: str = "op-1") -> bytes:
    jobs = [{"job_name": "a"}, {"job_name": "b"}]
    return json.dumps({"type": "trigger_job", "operation_id": operation_id, "jobs": jobs}).encode()


SubmitCall = Callable[[FakeCoordinator], list[str]]


def _submit(server: FakeCoordinator) -> list[str]:
    return submit_triggers(server.url, server.token, "parent-1", _payload(),
                           backoff_seconds=0.05)


def test_submission_retried_after_5xx(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("ingest", "running", job_id="parent-1")
    coordinator.enqueue_fault(500, "")
    coordinator.enqueue_fault(503, "", {"Retry-After": "0"})

    assert _submit(coordinator) == ["op-1-0", "op-1-1"]
    assert len(coordinator.requests_to("/api/v1/jobs/parent-1/triggers", "POST")) == 3
    assert len(coordinator.triggers_received) == 1


def test_submission_whose_answer_was_lost_creates_nothing_twice(
    coordinator: FakeCoordinator, waits: Waits
) -> None:
    coordinator.add_job("ingest", "running", job_id="parent-1")
    coordinator.enqueue_reset(after_handling=True)

    _submit(coordinator)

    posts = coordinator.requests_to("/api/v1/jobs/parent-1/triggers", "POST")
    assert len(posts) == 2
    assert posts[0].body == posts[1].body
    assert coordinator.operations == {("parent-1", "op-1"): ["op-1-0", "op-1-1"]}
    assert [s.created_job_ids for s in coordinator.triggers_received] == [
        ["op-1-0", "op-1-1"], []
    ]


def test_submission_is_not_turned_into_a_get(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.enqueue_fault(302, "", {"Location": "/api/v1/jobs/parent-1/triggers"})
    with pytest.raises(CapabilityError, match="would turn the POST into a GET"):
        _submit(coordinator)
    assert len(coordinator.requests) == 1


def test_submission_follows_a_same_origin_307(coordinator: FakeCoordinator, waits: Waits) -> None:
    coordinator.add_job("ingest", "running", job_id="parent-1")
    coordinator.enqueue_fault(307, "", {"Location": "/api/v1/jobs/parent-1/triggers"})
    assert _submit(coordinator) == ["op-1-0", "op-1-1"]
    assert coordinator.requests[1].method == "POST"
    assert coordinator.requests[1].body == _payload()


# --- the token stays secret ----------------------------------------------------------------


def test_token_is_in_no_log_line_and_no_linked_error(
    coordinator: FakeCoordinator, waits: Waits, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    coordinator.add_job("build", "submitted")
    coordinator.enqueue_fault(500, f"echo {TOKEN}")
    coordinator.enqueue_reset()
    coordinator.enqueue_fault(302, "", {"Location": f"http://{TOKEN}.example/?t={TOKEN}"})
    state = state_for(coordinator)

    with pytest.raises(CapabilityError) as caught:
        state.is_job_running("build")
    assert caplog.records  # urllib3 did log the requests
    assert TOKEN not in caplog.text
    for linked in _chain(caught.value):
        assert TOKEN not in repr(linked) and TOKEN not in str(linked)
    assert _chain(caught.value) == [caught.value]
    assert TOKEN not in repr(state) and TOKEN not in repr(vars(state))


@pytest.mark.parametrize(("wall", "budget"), [(10.0, 7.0), (30.0, 27.0), (4.0, 2.0)])
def test_budget_for_leaves_the_pipeline_room(wall: float, budget: float) -> None:
    assert budget_for(wall) == budget
