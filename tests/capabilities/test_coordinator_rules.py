"""The coordinator transport's rules, in-process and exactly: which addresses and
redirects are accepted, when a request is tried again and how long it waits, and how
each failure is worded. The transport itself, against real HTTPS servers, is in
test_coordinator_http.py and test_coordinator_faults.py."""

from __future__ import annotations

import itertools
import random
import socket
import ssl
import time
from typing import Any

import pytest
import requests
import urllib3

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator import errors
from engine.capabilities.coordinator.retry import (
    RetryPolicy,
    Transient,
    budget_for,
    retry_after,
)
from engine.capabilities.coordinator.urls import origin_of, redirect_refusal, validate_base_url

# --- which addresses are accepted ---------------------------------------------------------

INSECURE = ("the coordinator URL uses plain http, which is refused: the API token would "
            "travel unencrypted; use https, or accept the risk explicitly: "
            "--allow-insecure-transport on the command line, "
            "WorkflowContext(allow_insecure_transport=True) in a Python script")
BASE_URLS: list[tuple[str, bool, tuple[str, str] | str]] = [
    # URL, insecure transport allowed, (base URL, "host:port") or the exact refusal
    ("https://coordinator.example", False, ("https://coordinator.example",
                                            "coordinator.example:443")),
    ("HTTPS://Coordinator.example/api//", False, ("https://Coordinator.example/api",
                                                 "coordinator.example:443")),
    ("https://[::1]:8443/api/", False, ("https://[::1]:8443/api", "[::1]:8443")),
    ("https://h/BOX/", False, ("https://h/BOX", "h:443")),
    ("http://127.0.0.1/", True, ("http://127.0.0.1", "127.0.0.1:80")),
    ("http://127.0.0.1:8080", True, ("http://127.0.0.1:8080", "127.0.0.1:8080")),
    ("http://127.0.0.1", False, INSECURE),
    ("", False, "the coordinator URL is empty"),
    ("   ", False, "the coordinator URL is empty"),
    ("https://a b", False, "the coordinator URL contains whitespace or control characters"),
    ("https://ab\x01", False, "the coordinator URL contains whitespace or control characters"),
    ("https://h:99999", False, "the coordinator URL is malformed: Port out of range 0-65535"),
    ("ftp://h", False, "the coordinator URL must start with https:// (scheme 'ftp' is not "
     "supported)"),
    ("coordinator.example", False, "the coordinator URL must start with https:// (scheme "
     "'(none)' is not supported)"),
    ("https://", False, "the coordinator URL is malformed: it names no host"),
    ("https://user@h", False, "the coordinator URL must not contain credentials"),
    ("https://:pass@h", False, "the coordinator URL must not contain credentials"),
    ("https://h/?q=1", False, "the coordinator URL must not contain a query or fragment"),
    ("https://h/#top", False, "the coordinator URL must not contain a query or fragment"),
]


@pytest.mark.parametrize(("url", "insecure", "expected"), BASE_URLS)
def test_coordinator_addresses(url: str, insecure: bool,
                               expected: tuple[str, str] | str) -> None:
    if isinstance(expected, tuple):
        assert validate_base_url(url, insecure) == expected
        return
    with pytest.raises(CapabilityError) as caught:
        validate_base_url(url, insecure)
    assert str(caught.value) == expected


ORIGINS: list[tuple[str, tuple[str, str, int] | None]] = [
    ("https://Coordinator.EXAMPLE:8443/x", ("https", "coordinator.example", 8443)),
    ("https://h/x", ("https", "h", 443)),
    ("HTTP://h/x", ("http", "h", 80)),
    ("http://h:8080", ("http", "h", 8080)),
    ("ftp://h/x", None),
    ("https:///x", None),
    ("https://h:port/", None),
    ("mailto:someone", None),
]


@pytest.mark.parametrize(("url", "origin"), ORIGINS)
def test_the_origin_of_an_address(url: str, origin: tuple[str, str, int] | None) -> None:
    assert origin_of(url) == origin


HOME = origin_of("https://h")
LEAVES = ("; redirects that leave https or change host are refused: configure the final "
          "coordinator address instead")
REDIRECTS: list[tuple[int, str, str, str | None]] = [
    # status, target, method, the exact refusal (None: followed)
    (302, "https://h/next", "GET", None),
    (301, "https://H:443/next", "GET", None),
    (307, "https://h/next", "POST", None),
    (308, "https://h/next", "POST", None),
    (303, "https://h/next", "POST", "redirected (303) while reading; a 303 would turn the POST "
     "into a GET, so it is refused"),
    (302, "https://h/next", "POST", "redirected (302) while reading; a 302 would turn the POST "
     "into a GET, so it is refused"),
    (302, "https://other/x", "GET", f"redirected (302) to https://other while reading{LEAVES}"),
    (302, "https://h:444/x", "GET", f"redirected (302) to https://h:444 while reading{LEAVES}"),
    (302, "http://h/x", "GET", f"redirected (302) to http://h while reading{LEAVES}"),
    (302, "https://h:99999/x", "GET",
     f"redirected (302) to a malformed location while reading{LEAVES}"),
    (302, "file:///etc/passwd", "GET", f"redirected (302) to file://? while reading{LEAVES}"),
    (302, "//elsewhere/x", "GET", f"redirected (302) to ?://elsewhere while reading{LEAVES}"),
]


@pytest.mark.parametrize(("status", "target", "method", "refusal"), REDIRECTS)
def test_redirects(status: int, target: str, method: str, refusal: str | None) -> None:
    assert redirect_refusal(status, target, method, HOME, "reading") == refusal


# --- when a request is tried again ------------------------------------------------------

@pytest.mark.parametrize(("wall", "budget"), [(10.0, 7.0), (6.5, 3.5), (6.0, 3.0), (4.0, 2.0)])
def test_the_coordinator_budget_leaves_the_pipeline_room(wall: float, budget: float) -> None:
    assert budget_for(wall) == budget


@pytest.mark.parametrize("settings", [
    {"budget_seconds": 0, "max_attempts": 1, "backoff_seconds": 0},
    {"budget_seconds": 1, "max_attempts": 0, "backoff_seconds": 0},
    {"budget_seconds": 1, "max_attempts": 1, "backoff_seconds": -0.5},
])
def test_retry_settings_out_of_range_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(CapabilityError) as caught:
        RetryPolicy(**settings)  # type: ignore[arg-type]
    assert str(caught.value) == ("budget_seconds must be positive, max_attempts at least 1 "
                                 "and backoff_seconds not negative")


def _policy(max_attempts: int = 5, backoff: float = 0.001) -> RetryPolicy:
    return RetryPolicy(budget_seconds=7.0, max_attempts=max_attempts, backoff_seconds=backoff)


def test_attempts_are_counted_in_the_reason_for_giving_up() -> None:
    far = time.monotonic() + 3600
    assert _policy(max_attempts=1).give_up_reason(Transient("x"), 1, far) == (
        "gave up after 1 attempt")
    assert _policy(max_attempts=2).give_up_reason(Transient("x"), 2, far) == (
        "gave up after 2 attempts")
    assert _policy(max_attempts=2).give_up_reason(Transient("x"), 1, far) is None


def test_a_retry_is_made_only_when_its_longest_wait_fits_the_time_left() -> None:
    # Each deadline is set just before the call. The time left at the check can only be
    # less, which never turns a "give up" into a retry; the one retry expected has a
    # second to spare.
    policy = _policy()
    assert policy.give_up_reason(Transient("x"), 1, time.monotonic() + 1.04) is None
    assert policy.give_up_reason(Transient("x", retry_after=5.0), 1,
                                 time.monotonic() + 5.02) == (
        "gave up after 1 attempt: another try would not fit the 7s time budget")
    assert policy.give_up_reason(Transient("x", retry_after=5.2), 1,
                                 time.monotonic() + 5.0) == (
        "gave up after 1 attempt: it asked to retry after 6s, beyond the 7s time budget")
    slow = _policy(backoff=1.0)
    assert slow.give_up_reason(Transient("x"), 2, time.monotonic() + 2.03) == (
        "gave up after 2 attempts: another try would not fit the 7s time budget")


def test_a_wait_is_jittered_between_half_the_backoff_and_all_of_it() -> None:
    policy = _policy(backoff=0.25)
    random.seed(16)
    waits = [policy.delay(3, None) for _ in range(300)]  # doubled twice by attempt 3
    assert all(0.5 <= wait <= 1.0 for wait in waits)
    assert max(policy.delay(9, None) for _ in range(50)) <= 2.0  # capped
    assert policy.delay(1, 30.0) == 30.0  # the server asked for longer


RETRY_AFTER: list[tuple[str | None, float | None]] = [
    (None, None), ("", None), ("  ", None), ("soon", None),
    ("0", 0.0), (" 120 ", 120.0), ("86401", 86400.0), ("99999999999999999999", 86400.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0), ("Wed, 21 Oct 2015 07:28:00 -0000", 0.0),
    ("Fri, 01 Jan 2100 00:00:00 GMT", 86400.0), ("Fri, 99 Jan 2100 00:00:00 GMT", None),
]


@pytest.mark.parametrize(("header", "seconds"), RETRY_AFTER)
def test_retry_after_headers(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds


# --- how failures are worded --------------------------------------------------------------

READ, SUBMIT = "read jobs (jobs:read)", "submit jobs (jobs:submit)"
HINT = ("a job's own token may only submit (it holds jobs:submit and nothing else), so a "
        "default deployment refuses every read; an operator can give the job a token that "
        "may read jobs (docs/coordinator.md, \"Reading job state\")")
STATUSES: list[tuple[int, str, str]] = [
    (401, READ, "refused the API token (401 Unauthorized) while reading; the token is invalid "
     f"or expired, or lacks the right to {READ} ({HINT})"),
    (401, SUBMIT, "refused the API token (401 Unauthorized) while reading; the token is "
     f"invalid or expired, or lacks the right to {SUBMIT}"),
    (403, READ, f"the API token lacks the right to {READ} (403 Forbidden) while reading; {HINT}"),
    (403, SUBMIT, f"the API token lacks the right to {SUBMIT} (403 Forbidden) while reading"),
    (500, READ, "answered HTTP 500 (expected 200) while reading"),
]


@pytest.mark.parametrize(("status", "right", "message"), STATUSES)
def test_status_messages(status: int, right: str, message: str) -> None:
    assert errors.status_message(status, 200, "reading", right) == message


def test_the_fixed_messages() -> None:
    assert errors.with_excerpt("failed", "") == "failed"
    assert errors.with_excerpt("failed", "why") == "failed: why"
    assert errors.budget_spent(7.0, "reading") == (
        "did not finish answering within the 7s time budget for coordinator requests while "
        "reading")
    assert errors.budget_spent(2.5, "reading", whole_request=True) == (
        "did not finish answering within the 2.5s time budget for coordinator requests while "
        "reading (connect, headers and body count)")
    assert errors.oversized(16 * 1024 * 1024, "reading") == (
        "answer is larger than 16 MiB while reading; stopped reading")


def _chained(*messages: str) -> BaseException:
    """An exception whose cause is the next one, and so on: the last is the deepest."""
    raised = [ValueError(message) for message in messages]
    for outer, inner in itertools.pairwise(raised):
        outer.__cause__ = inner
    return raised[0]


def _cycle() -> BaseException:
    first, second = OSError("first"), OSError("second")
    first.__cause__, second.__context__ = second, first
    return first


def _unverified(verify_message: str | None, reason: str | None) -> BaseException:
    inner = ssl.SSLCertVerificationError()
    inner.verify_message, inner.reason = verify_message, reason  # type: ignore[assignment]
    return requests.exceptions.SSLError(inner)


TIMEOUTS = {"timeouts": (3.0, 4.5), "budget": 7.0}
NO_POOL: Any = None  # urllib3's errors name the pool they came from; these come from none
FAILURES: list[tuple[str, BaseException, bool, str | tuple[str]]] = [
    # what was raised, whether the budget was spent, the final message or (the retried one,)
    ("connect timeout", requests.exceptions.ConnectTimeout("slow"), False,
     ("timed out connecting after 3s while reading",)),
    ("read timeout", requests.exceptions.ReadTimeout("slow"), False,
     ("did not answer within 4.5s (read timeout) while reading",)),
    ("read timeout inside", requests.exceptions.ConnectionError(
        urllib3.exceptions.ReadTimeoutError(NO_POOL, "/x", "late")), False,
     ("did not answer within 4.5s (read timeout) while reading",)),
    ("timeout, budget spent", requests.exceptions.ReadTimeout("slow"), True,
     "did not finish answering within the 7s time budget for coordinator requests while "
     "reading"),
    ("TLS", requests.exceptions.SSLError("bad handshake"), False,
     "not reachable: TLS failure while reading: bad handshake"),
    ("TLS inside", requests.exceptions.ConnectionError(ssl.SSLError(1, "wrong version")),
     False, "not reachable: TLS failure while reading: wrong version"),
    ("certificate", _unverified("self-signed certificate", "CERTIFICATE_VERIFY_FAILED"), False,
     "not reachable: TLS failure while reading: certificate verification failed: "
     "self-signed certificate"),
    ("certificate reason", _unverified(None, "CERTIFICATE_VERIFY_FAILED"), False,
     "not reachable: TLS failure while reading: certificate verification failed: "
     "CERTIFICATE_VERIFY_FAILED"),
    ("certificate unexplained", _unverified(None, None), False,
     "not reachable: TLS failure while reading: certificate verification failed: "
     "unknown reason"),
    ("DNS", requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not "
                                                               "known")), False,
     "not reachable: DNS lookup failed while reading: [Errno -2] Name or service not known"),
    ("refused, through reason", requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(NO_POOL, "/x", reason=ConnectionRefusedError("no"))),
     False, ("not reachable: connection refused while reading",)),
    ("broken", requests.exceptions.ChunkedEncodingError("cut short"), False,
     ("connection failed while reading: cut short",)),
    ("other, deepest words", _chained("outer", "middle", "inner"), False,
     "request failed while reading: ValueError: inner"),
    ("other, first of the deepest", ValueError("outer", ValueError("a"), ValueError("b")),
     False, "request failed while reading: ValueError: a"),
    ("other, in a cycle", _cycle(), False, "request failed while reading: OSError: second"),
    ("other, wordless", ValueError(), False, "request failed while reading: ValueError: "
     "unknown error"),
]


@pytest.mark.parametrize(("raised", "spent", "expected"), [f[1:] for f in FAILURES],
                         ids=[f[0] for f in FAILURES])
def test_transport_failures(raised: BaseException, spent: bool,
                            expected: str | tuple[str]) -> None:
    outcome: Any = errors.transport_failure(raised, "reading", spent=spent,
                                            **TIMEOUTS)  # type: ignore[arg-type]
    if isinstance(expected, tuple):
        assert isinstance(outcome, Transient)
        assert (outcome.message, outcome.retry_after) == (expected[0], None)
    else:
        assert outcome == expected
