"""The coordinator transport against a server that misbehaves on purpose, on 127.0.0.1.

What goes on the wire, what each way of framing a body reads as, and what a lying,
stalling, trickling or broken answer is reported as. The server (tests/support/raw_http)
writes raw bytes, so an answer can be anything a real network can deliver.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

# The transport imports requests on first use; imported here, that import takes none
# of the time budgets below.
import requests  # noqa: F401

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.transport import (
    MAX_RESPONSE_BYTES,
    Transport,
    check_settings,
)
from tests.support.raw_http import (
    Close,
    Hold,
    Pause,
    RawHTTPServer,
    Reset,
    Send,
    Step,
    Trickle,
    answer,
    chunked,
    gzipped,
    head,
)

TOKEN = "tok-SECRET-123"
ACTION = "reading jobs"
RIGHT = "read jobs (jobs:read)"


def transport(server: RawHTTPServer, **kwargs: Any) -> Transport:
    """A client of `server`: one attempt, generous timeouts unless a test says otherwise."""
    kwargs.setdefault("timeout", (2.0, 2.0))
    kwargs.setdefault("budget_seconds", 10.0)
    kwargs.setdefault("max_attempts", 1)
    kwargs.setdefault("backoff_seconds", 0.01)
    return Transport(server.url, TOKEN, allow_insecure_transport=True, **kwargs)


def get(client: Transport, path: str = "/api/v1/jobs", **params: str | int) -> Any:
    return client.request_json("GET", path, action=ACTION, right=RIGHT, expected=200,
                               params=params or None)


def failure(client: Transport, path: str = "/api/v1/jobs") -> str:
    """The message of the error a GET of `path` ends in."""
    with pytest.raises(CapabilityError) as caught:
        get(client, path)
    message = str(caught.value)
    assert TOKEN not in message
    return message


def said(server: RawHTTPServer, message: str) -> str:
    """`message` as the transport words it: naming the coordinator."""
    return f"coordinator at 127.0.0.1:{server.port}: {message}"


# --- what goes on the wire -----------------------------------------------------------


def test_every_request_says_who_sends_it_and_what_it_accepts(raw_server: RawHTTPServer) -> None:
    client = transport(raw_server)
    get(client, status="running", limit=100)
    raw_server.enqueue(answer(201, b"[]"))
    client.request_json("POST", "/api/v1/jobs/p/triggers", action="submitting", right=RIGHT,
                        expected=201, body=b'{"jobs": []}')

    listing, submission = raw_server.received
    assert listing.request_line == "GET /api/v1/jobs?status=running&limit=100 HTTP/1.1"
    assert submission.request_line == "POST /api/v1/jobs/p/triggers HTTP/1.1"
    for request in (listing, submission):
        assert request.header("Authorization") == [f"Bearer {TOKEN}"]
        assert request.header("Accept") == ["application/json"]
        # Uncompressed, so that the size cap counts what is sent.
        assert request.header("Accept-Encoding") == ["identity"]
        assert request.header("User-Agent") == ["reactorcide-pipeline-engine"]
    assert listing.header("Content-Type") == [] and listing.body == b""
    assert submission.header("Content-Type") == ["application/json"]
    assert submission.body == b'{"jobs": []}'


def test_one_connection_serves_a_client_until_it_is_closed(raw_server: RawHTTPServer) -> None:
    client = transport(raw_server)
    assert get(client) == {} and get(client) == {}
    first, second = raw_server.received
    assert first.connection == second.connection == 0

    client.close()
    assert raw_server.wait_hung_up(0)
    assert get(client) == {}  # a closed client opens a new connection when used again
    assert raw_server.received[-1].connection == 1


# --- how a body is framed ----------------------------------------------------------


BODY = b'{"jobs": [], "total": 0}'

FRAMING_CASES: list[tuple[str, tuple[Step, ...], Any]] = [
    ("a true Content-Length", (answer(200, BODY),), json.loads(BODY)),
    ("no length, read to the hang-up",
     (Send(head(200, {"Connection": "close"}) + BODY), Close()), json.loads(BODY)),
    ("a Content-Length that is not a number, read to the hang-up",
     (Send(head(200, {"Content-Length": "many", "Connection": "close"}) + BODY), Close()),
     json.loads(BODY)),
    # A digit int() refuses, as the HTTP client does: no length, read to the hang-up.
    ("a Content-Length that is a digit but not a number",
     (Send(head(200, {"Content-Length": "\xb2", "Connection": "close"}) + BODY), Close()),
     json.loads(BODY)),
    ("chunked", (Send(head(200, {"Transfer-Encoding": "chunked"}) + chunked(BODY)),),
     json.loads(BODY)),
    ("gzip although identity was asked for",
     (answer(200, gzipped(BODY), {"Content-Encoding": "gzip"}),), json.loads(BODY)),
    ("a body that arrives a byte at a time, within the read timeout",
     (Send(head(200, {"Content-Length": str(len(BODY))})), Trickle(BODY, 0.002)),
     json.loads(BODY)),
    # Refused before a byte of the body is read: the server sends none and waits.
    ("a declared length over the cap",
     (Send(head(200, {"Content-Length": str(MAX_RESPONSE_BYTES + 1)})), Hold()),
     "answer is larger than 16 MiB while reading jobs; stopped reading"),
    # Not refused for its declared length; the body is then cut short by the hang-up.
    ("a declared length of exactly the cap, body cut short",
     (Send(head(200, {"Content-Length": str(MAX_RESPONSE_BYTES)}) + BODY), Close()),
     "connection failed while reading jobs: "),
]


@pytest.mark.parametrize(("script", "expected"), [(s, e) for _, s, e in FRAMING_CASES],
                         ids=[c[0] for c in FRAMING_CASES])
def test_what_each_framing_of_a_body_reads_as(raw_server: RawHTTPServer,
                                              script: tuple[Step, ...], expected: Any) -> None:
    raw_server.enqueue(*script)
    client = transport(raw_server)
    if not isinstance(expected, str):
        assert get(client) == expected
        return
    assert failure(client).startswith(said(raw_server, expected))
    assert client.requests_sent == 1


def _exactly(size: int) -> bytes:
    """A JSON document of exactly `size` bytes."""
    return b'{"jobs": [' + b" " * (size - 12) + b"]}"


@pytest.mark.parametrize("framing", ["content-length", "until-close"])
def test_an_answer_of_exactly_the_cap_is_read_whole(raw_server: RawHTTPServer,
                                                    framing: str) -> None:
    body = _exactly(MAX_RESPONSE_BYTES)
    assert len(body) == MAX_RESPONSE_BYTES
    if framing == "content-length":
        raw_server.enqueue(answer(200, body))
    else:
        raw_server.enqueue(Send(head(200, {"Connection": "close"}) + body), Close())
    assert get(transport(raw_server)) == {"jobs": []}


def test_an_answer_one_byte_over_the_cap_is_refused(raw_server: RawHTTPServer) -> None:
    raw_server.enqueue(Send(head(200, {"Connection": "close"})
                            + _exactly(MAX_RESPONSE_BYTES + 1)), Close())
    assert failure(transport(raw_server)) == said(
        raw_server, "answer is larger than 16 MiB while reading jobs; stopped reading")


# --- answers that stop, trickle or break -------------------------------------------------

READ_TIMED_OUT = ("did not answer within 0.2s (read timeout) while reading jobs "
                  "(gave up after 1 attempt)")

BROKEN_CASES: list[tuple[str, tuple[Step, ...], str]] = [
    ("headers never come", (Hold(),), READ_TIMED_OUT),
    ("the body stops half-way",
     (Send(head(200, {"Content-Length": "40"}) + b'{"jobs": '), Hold()), READ_TIMED_OUT),
    ("the body trickles slower than the read timeout",
     (Send(head(200, {"Content-Length": "4"})), Trickle(b"{}  ", 0.6)), READ_TIMED_OUT),
    ("an error answer whose body never comes",
     (Send(head(503, {"Content-Length": "40"})), Hold()),
     "answered HTTP 503 while reading jobs (gave up after 1 attempt)"),
    ("the connection is closed mid-body",
     (Send(head(200, {"Content-Length": "40"}) + b'{"jobs": '), Close()),
     "connection failed while reading jobs: "),
    ("the connection is reset mid-body",
     (Send(head(200, {"Content-Length": "40"}) + b'{"jobs": '), Reset()),
     "connection failed while reading jobs: "),
]


@pytest.mark.parametrize(("script", "expected"), [(s, e) for _, s, e in BROKEN_CASES],
                         ids=[c[0] for c in BROKEN_CASES])
def test_an_answer_that_stops_or_breaks(raw_server: RawHTTPServer, script: tuple[Step, ...],
                                        expected: str) -> None:
    raw_server.enqueue(*script)
    client = transport(raw_server, timeout=(2.0, 0.2))
    message = failure(client)
    if expected.endswith(": "):
        assert message.startswith(said(raw_server, expected))
        assert message.endswith("(gave up after 1 attempt)")
    else:
        assert message == said(raw_server, expected)


def test_a_broken_answer_is_tried_again(raw_server: RawHTTPServer) -> None:
    raw_server.enqueue(Send(head(200, {"Content-Length": "40"}) + b'{"jobs": '), Close())
    raw_server.enqueue(Hold())
    client = transport(raw_server, timeout=(2.0, 0.2), max_attempts=3)
    assert get(client) == {}
    assert client.requests_sent == 3


STALL_POINTS: list[tuple[str, tuple[Step, ...]]] = [
    ("before the headers", (Hold(),)),
    ("mid-body", (Send(head(200, {"Content-Length": "40"}) + b'{"jobs": '), Hold())),
]


@pytest.mark.parametrize("script", [s for _, s in STALL_POINTS],
                         ids=[name for name, _ in STALL_POINTS])
def test_a_read_timeout_in_the_last_moments_of_the_budget_is_the_budgets(
    raw_server: RawHTTPServer, script: tuple[Step, ...]
) -> None:
    # The read times out with less than an attempt's minimum left, before the
    # deadline: the budget is what ran out, and no further attempt is made.
    raw_server.enqueue(*script)
    client = transport(raw_server, timeout=(2.0, 0.3), budget_seconds=0.34, max_attempts=4)
    assert failure(client) == said(raw_server, "did not finish answering within the 0.34s "
                                   "time budget for coordinator requests while reading jobs")
    assert client.requests_sent == 1


@pytest.mark.parametrize("script", [s for _, s in STALL_POINTS],
                         ids=[name for name, _ in STALL_POINTS])
def test_the_deadline_cuts_an_answer_the_read_timeout_would_wait_for(
    raw_server: RawHTTPServer, script: tuple[Step, ...]
) -> None:
    raw_server.enqueue(*script)
    client = transport(raw_server, timeout=(2.0, 5.0), budget_seconds=0.3, max_attempts=4)
    message = failure(client)
    assert message.startswith(said(raw_server, "did not finish answering within the 0.3s "
                                   "time budget for coordinator requests while reading jobs"))
    assert client.requests_sent == 1


def test_a_request_cut_by_the_deadline_says_that_the_whole_request_counts(
    raw_server: RawHTTPServer,
) -> None:
    # The redirect comes just before the deadline (or, on a slow machine, just after):
    # the next hop is given an attempt's minimum to wait for its headers, which ends
    # after the deadline, so the deadline, not that wait, ends the request.
    raw_server.enqueue(Pause(0.5 - 0.025), answer(307, b"", {"Location": "/next"}))
    raw_server.enqueue(Hold())
    client = transport(raw_server, timeout=(2.0, 5.0), budget_seconds=0.5, max_attempts=4)
    assert failure(client) == said(
        raw_server, "did not finish answering within the 0.5s time budget for coordinator "
        "requests while reading jobs (connect, headers and body count)")


def test_a_body_that_keeps_coming_past_the_deadline_is_cut_at_the_deadline(
    raw_server: RawHTTPServer,
) -> None:
    # One byte of body per chunk, sent faster than the client can read chunks: bytes are
    # always waiting, so no read ever waits and the size cap is far away; only the
    # deadline ends the answer.
    raw_server.enqueue(Send(head(200, {"Transfer-Encoding": "chunked"}) + b"1\r\n{\r\n"),
                       Send(b"1\r\n \r\n" * 700_000), Hold())
    client = transport(raw_server, timeout=(2.0, 5.0), budget_seconds=0.3)
    assert failure(client) == said(
        raw_server, "did not finish answering within the 0.3s time budget for coordinator "
        "requests while reading jobs")


def test_a_body_that_stops_before_the_deadline_is_cut_at_the_deadline(
    raw_server: RawHTTPServer,
) -> None:
    # Read to the hang-up: without a length, only the deadline says the body is not whole.
    raw_server.enqueue(Send(head(200, {"Connection": "close"}) + b'{"jobs": []'), Hold())
    client = transport(raw_server, timeout=(2.0, 5.0), budget_seconds=0.3)
    assert failure(client).startswith(said(
        raw_server,
        "did not finish answering within the 0.3s time budget for coordinator requests "
        "while reading jobs"))


def test_a_body_trickling_past_the_deadline_is_cut(raw_server: RawHTTPServer) -> None:
    # Read to the hang-up: without a length, only the deadline says the body is not whole.
    raw_server.enqueue(Send(head(200, {"Connection": "close"}) + b'{"jobs": []'),
                       Trickle(b" " * 400 + b"}", 0.01))
    client = transport(raw_server, timeout=(2.0, 5.0), budget_seconds=0.3)
    assert failure(client).startswith(said(
        raw_server,
        "did not finish answering within the 0.3s time budget for coordinator requests "
        "while reading jobs"))


# --- statuses -------------------------------------------------------------------------

RETRIED, REDIRECTED = "retried", "redirected"

STATUS_CASES: list[tuple[int, str]] = [
    (299, "answered HTTP 299 (expected 200) while reading jobs"),
    (300, REDIRECTED),
    (399, REDIRECTED),
    (400, "answered HTTP 400 (expected 200) while reading jobs"),
    (428, "answered HTTP 428 (expected 200) while reading jobs"),
    (429, RETRIED),
    (430, "answered HTTP 430 (expected 200) while reading jobs"),
    (499, "answered HTTP 499 (expected 200) while reading jobs"),
    (500, RETRIED),
    (599, RETRIED),
    (600, "answered HTTP 600 (expected 200) while reading jobs"),
]


@pytest.mark.parametrize(("status", "outcome"), STATUS_CASES,
                         ids=[str(status) for status, _ in STATUS_CASES])
def test_what_each_status_means(raw_server: RawHTTPServer, status: int, outcome: str) -> None:
    raw_server.enqueue(answer(status, b"", {"Location": "/api/v1/jobs/next"}))
    client = transport(raw_server, max_attempts=2)
    if outcome in (RETRIED, REDIRECTED):
        assert get(client) == {}
        assert client.requests_sent == 2
        second = raw_server.received[1].request_line
        assert second.startswith("GET /api/v1/jobs/next " if outcome == REDIRECTED
                                 else "GET /api/v1/jobs ")
    else:
        assert failure(client) == said(raw_server, outcome)
        assert client.requests_sent == 1


def test_a_redirect_leads_where_it_says_without_the_first_query(
    raw_server: RawHTTPServer,
) -> None:
    for hop in range(3):
        raw_server.enqueue(answer(307, b"", {"Location": f"/hop-{hop}?page={hop}"}))
    client = transport(raw_server)
    assert get(client, status="running") == {}
    assert [r.request_line.split()[1] for r in raw_server.received] == [
        "/api/v1/jobs?status=running", "/hop-0?page=0", "/hop-1?page=1", "/hop-2?page=2"]


def test_a_fourth_redirect_is_not_followed(raw_server: RawHTTPServer) -> None:
    for hop in range(4):
        raw_server.enqueue(answer(307, b"", {"Location": f"/hop-{hop}"}))
    client = transport(raw_server)
    assert failure(client) == said(raw_server, "redirected more than 3 times while reading jobs")
    assert len(raw_server.received) == 4


REFUSED_REDIRECTS: list[tuple[str, Send, str, str]] = [
    ("to another host", answer(302, b"", {"Location": "http://localhost:{port}/x"}), "GET",
     "redirected (302) to http://localhost:{port} while reading jobs; redirects that leave "
     "https or change host are refused: configure the final coordinator address instead"),
    ("a submission turned into a GET", answer(302, b"", {"Location": "/x"}), "POST",
     "redirected (302) while reading jobs; a 302 would turn the POST into a GET, so it is "
     "refused"),
    ("nowhere", answer(302), "GET", "redirected (302) without a Location while reading jobs"),
    ("to a malformed location", answer(302, b"", {"Location": "http://[oops/x"}), "GET",
     "redirected (302) to a malformed location while reading jobs"),
]


@pytest.mark.parametrize(("script", "method", "words"),
                         [(s, m, w) for _, s, m, w in REFUSED_REDIRECTS],
                         ids=[c[0] for c in REFUSED_REDIRECTS])
def test_a_refused_redirect_is_said_in_full(raw_server: RawHTTPServer, script: Send,
                                            method: str, words: str) -> None:
    raw_server.enqueue(Send(script.data.replace(b"{port}", str(raw_server.port).encode())))
    client = transport(raw_server)
    with pytest.raises(CapabilityError) as caught:
        client.request_json(method, "/api/v1/jobs", action=ACTION, right=RIGHT, expected=200,
                            body=b"{}" if method == "POST" else None)
    assert str(caught.value) == said(raw_server, words.format(port=raw_server.port))
    assert len(raw_server.received) == 1


# --- what an answer that is not JSON is reported as -----------------------------------

NOT_JSON: list[tuple[str, bytes]] = [
    ("not JSON", b"{not json"),
    ("not UTF-8", b"\xff\xfe\x00"),
    ("an integer too long to convert", b'{"a": ' + b"9" * 5000 + b"}"),
]


def _decoder_says(body: bytes) -> str:
    try:
        json.loads(body)
    except ValueError as exc:
        return str(exc)
    raise AssertionError("the body decodes")


@pytest.mark.parametrize("body", [b for _, b in NOT_JSON], ids=[name for name, _ in NOT_JSON])
def test_an_answer_that_is_not_json_is_said_with_the_decoders_words(
    raw_server: RawHTTPServer, body: bytes
) -> None:
    raw_server.enqueue(answer(200, body))
    assert failure(transport(raw_server)) == said(
        raw_server, f"answered with malformed JSON while reading jobs: {_decoder_says(body)}")


def test_an_answer_nested_too_deep_is_said_to_be(raw_server: RawHTTPServer) -> None:
    raw_server.enqueue(answer(200, b"[" * 100_000))
    assert failure(transport(raw_server)) == said(
        raw_server, "answered with malformed JSON while reading jobs: nested too deep")


# --- what an error answer shows of its body ------------------------------------------

EXCERPT_CASES: list[tuple[str, Send, str]] = [
    ("not UTF-8", answer(400, b"bad \xff input"), ": bad \ufffd input"),
    ("runs of white space", answer(400, b"  line one\r\n\n\tline two  "),
     ": line one line two"),
    ("gzip although identity was asked for",
     answer(400, gzipped(b"compressed detail"), {"Content-Encoding": "gzip"}),
     ": compressed detail"),
    ("text within the first 800 bytes", answer(400, b" " * 790 + b"seen"), ": seen"),
    ("text after the first 800 bytes", answer(400, b" " * 800 + b"unseen"), ""),
    ("nothing", answer(400), ""),
]


@pytest.mark.parametrize(("script", "excerpt"), [(s, e) for _, s, e in EXCERPT_CASES],
                         ids=[c[0] for c in EXCERPT_CASES])
def test_what_an_error_answer_shows_of_its_body(raw_server: RawHTTPServer, script: Send,
                                                excerpt: str) -> None:
    raw_server.enqueue(script)
    assert failure(transport(raw_server)) == said(
        raw_server, "answered HTTP 400 (expected 200) while reading jobs" + excerpt)


# --- settings ------------------------------------------------------------------------

SETTINGS: list[tuple[str, str, str, bool, str | None]] = [
    ("https", "https://127.0.0.1:1", TOKEN, False, None),
    ("http, allowed", "http://127.0.0.1:1", TOKEN, True, None),
    ("http, not allowed", "http://127.0.0.1:1", TOKEN, False,
     "the coordinator URL uses plain http, which is refused"),
    ("no URL", "", TOKEN, False, "the coordinator URL is empty"),
    ("a token with a space", "https://127.0.0.1:1", "SEC RET", False,
     "the coordinator API token "),
]


@pytest.mark.parametrize(("url", "token", "insecure", "refusal"),
                         [case[1:] for case in SETTINGS], ids=[case[0] for case in SETTINGS])
def test_settings_are_checked_before_anything_is_sent(url: str, token: str, insecure: bool,
                                                      refusal: str | None) -> None:
    if refusal is None:
        check_settings(url, token, allow_insecure_transport=insecure)
        return
    with pytest.raises(CapabilityError) as caught:
        check_settings(url, token, allow_insecure_transport=insecure)
    assert str(caught.value).startswith(refusal)
    assert "SEC" not in str(caught.value)



@pytest.mark.parametrize("timeout", [(0.0, 1.0), (1.0, 0.0), (-1.0, 1.0)])
def test_timeouts_must_be_positive(raw_server: RawHTTPServer,
                                   timeout: tuple[float, float]) -> None:
    with pytest.raises(CapabilityError) as caught:
        transport(raw_server, timeout=timeout)
    assert str(caught.value) == "the connect and read timeouts must be positive"


def test_short_timeouts_and_a_short_budget_are_accepted(raw_server: RawHTTPServer) -> None:
    raw_server.enqueue(answer(200, b'{"jobs": []}'))
    client = transport(raw_server, timeout=(0.5, 0.5), budget_seconds=0.9)
    assert get(client) == {"jobs": []}


def test_a_budget_counted_from_the_start_of_the_run_allows_a_request_at_once(
    raw_server: RawHTTPServer,
) -> None:
    client = transport(raw_server, budget_seconds=2.0, started=time.monotonic())
    assert get(client) == {}
