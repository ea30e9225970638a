"""HTTP transport to the Reactorcide coordinator: one session, one time budget, retries.

Every request of one client shares one ``requests.Session`` and one time budget, so
that a run fails with a clear message before the sandbox's wall clock would stop it.
What is retried and how long a retry waits is `retry`'s; which addresses and redirects
are accepted, `urls`'; how failures are worded, `errors`'. No message, log line or
recorded error ever contains the token: it is held as a `Secret` and every message
goes through `Transport.fail`, every answer through the Secret's `redact_deep`.

``requests``, ``ssl`` and ``datetime`` are imported on first use, never at import time.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urljoin

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator import errors
from engine.capabilities.coordinator.retry import (
    MIN_ATTEMPT_SECONDS,
    RetryPolicy,
    Transient,
    retry_after,
)
from engine.capabilities.coordinator.urls import origin_of, redirect_refusal, validate_base_url
from engine.common.secret import Secret

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping
    from typing import Any

    import requests

MAX_RESPONSE_BYTES = 16 * 1024 * 1024

_CHUNK = 64 * 1024
_EXCERPT = 200
_MAX_REDIRECTS = 3

# Indirection so that tests can record the waits without patching the time module.
_sleep: Callable[[float], None] = time.sleep


def check_settings(base_url: str, token: Secret | str, *,
                   allow_insecure_transport: bool) -> None:
    """Refuse an unusable coordinator address or token, without any network traffic."""
    _check_token(Secret.of(token))
    validate_base_url(base_url, allow_insecure_transport)


def _check_token(token: Secret) -> None:
    problem = token.header_problem()
    if problem is not None:
        # Said without showing where or which: the message must not describe the token.
        raise CapabilityError(f"the coordinator API token {problem}")


class Transport:
    """One validated coordinator address, one lazily created session, one time budget."""

    def __init__(
        self,
        base_url: str,
        token: Secret | str,
        *,
        allow_insecure_transport: bool,
        timeout: tuple[float, float],
        budget_seconds: float,
        max_attempts: int,
        backoff_seconds: float,
        started: float | None = None,
    ) -> None:
        """`started` (a `time.monotonic()` value) anchors the budget at the start of
        the run; without it, the budget starts with the first request. A str token is
        wrapped in a `Secret` at once."""
        self._token = Secret.of(token)
        _check_token(self._token)
        self._retry = RetryPolicy(budget_seconds=budget_seconds, max_attempts=max_attempts,
                                  backoff_seconds=backoff_seconds)
        if min(timeout) <= 0:
            raise CapabilityError("the connect and read timeouts must be positive")
        self._connect_timeout, self._read_timeout = timeout
        self._deadline: float | None = None if started is None else started + budget_seconds
        self.base, self.host_port = validate_base_url(base_url, allow_insecure_transport)
        self._origin = origin_of(self.base)
        self._session: requests.Session | None = None
        from engine.capabilities.coordinator.deadline import SocketCutter

        self._cutter = SocketCutter()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<coordinator transport {self.host_port}>"

    def _get_session(self) -> requests.Session:
        if self._session is None:
            import requests  # lazy: importing requests is slow

            class _Session(requests.Session):
                def get_redirect_target(self, resp: requests.Response) -> None:
                    # Where a redirect leads is for `_redirect_target` to say; requests
                    # would parse it anyway, and fail on a malformed one.
                    return None

            session = _Session()
            bearer = self._token.authorization()

            def _auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
                # As session-level auth this also stops requests from applying ~/.netrc.
                request.headers["Authorization"] = bearer
                return request

            session.auth = _auth
            session.headers["Accept"] = "application/json"
            # Uncompressed, so that the size cap counts what is really read.
            session.headers["Accept-Encoding"] = "identity"
            session.headers["User-Agent"] = "reactorcide-pipeline-engine"
            from engine.capabilities.coordinator.deadline import mount

            mount(session, self._cutter)
            self._session = session
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def fail(self, message: str) -> CapabilityError:
        """A CapabilityError naming the coordinator, with the token scrubbed."""
        return CapabilityError(self._token.redact(f"coordinator at {self.host_port}: {message}"))

    def request_json(
        self,
        method: str,
        path: str,
        *,
        action: str,
        right: str,
        expected: int,
        params: Mapping[str, str | int] | None = None,
        body: bytes | None = None,
    ) -> Any:
        """Send one request, retrying transient failures within the budget; return the
        decoded JSON body of an ``expected`` answer or raise CapabilityError."""
        if self._deadline is None:
            self._deadline = time.monotonic() + self._retry.budget
        deadline = self._deadline
        attempt = 0
        while True:
            attempt += 1
            if deadline - time.monotonic() < MIN_ATTEMPT_SECONDS:
                raise self.fail(
                    f"the {self._retry.budget:g}s time budget for coordinator requests is "
                    f"spent; not {action}"
                )
            with self._cutter.cut_at(deadline):
                outcome = self._attempt(method, path, params, body, action, right, expected,
                                        deadline)
            if not isinstance(outcome, Transient):
                # An answer that echoes the token never carries it further.
                return self._token.redact_deep(outcome)
            reason = self._retry.give_up_reason(outcome, attempt, deadline)
            if reason is not None:
                raise self.fail(f"{outcome.message} ({reason})")
            _sleep(self._retry.delay(attempt, outcome.retry_after))

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: bytes | None,
        action: str,
        right: str,
        expected: int,
        deadline: float,
    ) -> Any:
        """One try, following allowed redirects: the decoded answer, a Transient, or a
        raised CapabilityError for what retrying cannot fix."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        url = self.base + path
        for hop in range(_MAX_REDIRECTS + 1):
            remaining = max(deadline - time.monotonic(), MIN_ATTEMPT_SECONDS)
            read_timeout = min(self._read_timeout, remaining)
            timeout = (min(self._connect_timeout, remaining), read_timeout)
            response = self._send(method, url, params if hop == 0 else None, body, headers,
                                  timeout, action, deadline)
            if isinstance(response, Transient):
                return response
            outcome = self._receive(response, url, method, action, right, expected, deadline,
                                    read_timeout)
            if isinstance(outcome, str):  # where a redirect leads
                url = outcome
                continue
            if isinstance(outcome, Transient):
                return outcome
            return self._decoded(outcome, action)
        raise self.fail(f"redirected more than {_MAX_REDIRECTS} times while {action}")

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        body: bytes | None,
        headers: dict[str, str] | None,
        timeout: tuple[float, float],
        action: str,
        deadline: float,
    ) -> requests.Response | Transient:
        """One HTTP request, redirects not followed: its response with the body unread,
        a Transient, or a raised CapabilityError for what retrying cannot fix."""
        session = self._get_session()
        try:
            self.requests_sent += 1
            return session.request(method, url, params=params, data=body, headers=headers,
                                   timeout=timeout, allow_redirects=False, stream=True)
        except _failures() as exc:
            problem = self._transport_error(exc, action, deadline)
        return _raise_or_return(problem)

    def _receive(
        self,
        response: requests.Response,
        url: str,
        method: str,
        action: str,
        right: str,
        expected: int,
        deadline: float,
        read_timeout: float,
    ) -> str | bytes | Transient:
        """What one response means: the URL a redirect leads to, the body of the
        expected answer, a Transient, or a raised CapabilityError for what retrying
        cannot fix. The response is closed."""
        try:
            status = response.status_code
            if 300 <= status < 400:
                return self._redirect_target(url, response, method, action)
            if status == 429 or 500 <= status < 600:
                return Transient(
                    errors.with_excerpt(f"answered HTTP {status} while {action}",
                                        self._excerpt(response)),
                    retry_after(response.headers.get("Retry-After")),
                )
            if status != expected:
                message = errors.status_message(status, expected, action, right)
                raise self.fail(errors.with_excerpt(message, self._excerpt(response)))
            return self._read_limited(response, action, deadline, read_timeout)
        except _failures() as exc:
            problem = self._transport_error(exc, action, deadline)
        finally:
            response.close()
        return _raise_or_return(problem)

    def _decoded(self, raw: bytes, action: str) -> Any:
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as exc:
            # ValueError covers bad UTF-8, bad JSON and over-long integer literals;
            # RecursionError, a document nested too deep to decode.
            detail = str(exc) if isinstance(exc, ValueError) else "nested too deep"
            problem = self.fail(f"answered with malformed JSON while {action}: {detail}")
        raise problem

    def _redirect_target(
        self, url: str, response: requests.Response, method: str, action: str
    ) -> str:
        status = response.status_code
        location = response.headers.get("Location")
        if not location:
            raise self.fail(f"redirected ({status}) without a Location while {action}")
        try:
            target = urljoin(url, location)
        except ValueError:  # e.g. an unclosed "[" where an IPv6 address goes
            raise self.fail(f"redirected ({status}) to a malformed location while {action}"
                            ) from None
        refusal = redirect_refusal(status, target, method, self._origin, action)
        if refusal is not None:
            raise self.fail(refusal)
        return target

    def _read_limited(
        self, response: requests.Response, action: str, deadline: float, read_timeout: float
    ) -> bytes:
        declared = response.headers.get("Content-Length")
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        if declared is not None and declared.strip().isdecimal() and (
            int(declared) > MAX_RESPONSE_BYTES
        ):
            raise self.fail(errors.oversized(MAX_RESPONSE_BYTES, action))
        sock = _socket_of(response)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.fail(errors.budget_spent(self._retry.budget, action))
            if sock is not None:
                # Each read waits at most what is left of the budget, so that a slow
                # trickle of bytes cannot outlast it.
                sock.settimeout(min(read_timeout, remaining))
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk and self._cutter.cut_happened:
                raise self.fail(errors.budget_spent(self._retry.budget, action))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self.fail(errors.oversized(MAX_RESPONSE_BYTES, action))
            chunks.append(chunk)

    def _excerpt(self, response: requests.Response) -> str:
        try:
            raw = response.raw.read1(_EXCERPT * 4, decode_content=True)
        except Exception:  # an excerpt is best effort; the status code is the message
            return ""
        # The read may have cut a token in two: a trailing piece of it goes too.
        return self._token.redact(" ".join(raw.decode("utf-8", "replace").split()),
                                  cut=True)[:_EXCERPT]

    def _transport_error(
        self, exc: BaseException, action: str, deadline: float
    ) -> CapabilityError | Transient:
        spent = deadline - time.monotonic() < MIN_ATTEMPT_SECONDS
        if spent and self._cutter.cut_happened:
            # The total deadline cut the connection, whatever the read saw.
            return self.fail(errors.budget_spent(self._retry.budget, action,
                                                 whole_request=True))
        outcome = errors.transport_failure(
            exc, action, timeouts=(self._connect_timeout, self._read_timeout),
            budget=self._retry.budget, spent=spent,
        )
        return self.fail(outcome) if isinstance(outcome, str) else outcome


def _failures() -> tuple[type[BaseException], ...]:
    """What a request raises when the network or the server fails it."""
    import requests  # lazy: importing requests is slow
    import urllib3.exceptions

    return (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


def _raise_or_return(problem: CapabilityError | Transient) -> Transient:
    if isinstance(problem, CapabilityError):
        raise problem
    return problem


def _socket_of(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if hasattr(sock, "settimeout") else None
