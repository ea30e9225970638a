"""HTTP transport to the Reactorcide coordinator: one session, one time budget, retries.

The API token travels only over HTTPS unless the operator passed
``--allow-insecure-transport``; a redirect is followed only when it stays on the same
scheme, host and port; no message, log line or recorded error ever contains the token.

Every request of one client shares one ``requests.Session`` and one time budget:
connection errors, read timeouts, 429 and 5xx answers are retried with exponential
backoff and jitter (honouring ``Retry-After``) while the budget allows, so that a run
fails with a clear message before the sandbox's wall clock would stop it. Jitter only
changes how long a retry waits, never what is answered or said.

``requests``, ``ssl`` and ``datetime`` are imported on first use, never at import time.
"""

from __future__ import annotations

import json
import math
import time
from urllib.parse import urljoin, urlsplit

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Mapping
    from typing import Any

    import requests

MAX_RESPONSE_BYTES = 16 * 1024 * 1024
DEFAULT_BUDGET_SECONDS = 7.0

_INSECURE_OPTION = "--allow-insecure-transport"
_JOB_TOKEN_HINT = ("a job's own token may only submit (it holds jobs:submit and nothing "
                   "else), so a default deployment refuses every read; an operator can "
                   "give the job a token that may read jobs (docs/coordinator.md, "
                   "\"Reading job state\")")
_CHUNK = 64 * 1024
_EXCERPT = 200
_MAX_REDIRECTS = 3
_MIN_ATTEMPT_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0

# Indirection so that tests can record the waits without patching the time module.
_sleep: Callable[[float], None] = time.sleep


def budget_for(wall_seconds: float) -> float:
    """A coordinator time budget that leaves the pipeline room within its wall clock."""
    return wall_seconds - 3.0 if wall_seconds >= 6.0 else wall_seconds / 2.0


def check_settings(base_url: str, token: str, *, allow_insecure_transport: bool) -> None:
    """Refuse an unusable coordinator address or token, without any network traffic."""
    _check_token(token)
    _validate_base_url(base_url, allow_insecure_transport)


def _scrub(text: str, token: str) -> str:
    """Remove every form of the token that could appear in ``text``."""
    from engine.common.secret import redact

    return redact(text, token)


def _scrub_deep(value: Any, token: str) -> Any:
    """Decoded JSON with the token removed from every string, keys included."""
    if isinstance(value, str):
        return _scrub(value, token)
    if isinstance(value, list):
        return [_scrub_deep(item, token) for item in value]
    if isinstance(value, dict):
        return {_scrub_deep(k, token): _scrub_deep(v, token) for k, v in value.items()}
    return value


def _check_token(token: str) -> None:
    if not isinstance(token, str) or not token:
        raise CapabilityError("the coordinator API token is empty")
    if any(not 0x21 <= ord(c) <= 0x7E for c in token):
        # Said without showing where or which: the message must not describe the token.
        raise CapabilityError(
            "the coordinator API token contains whitespace, control or non-ASCII characters"
        )


class _Transient:
    """A failure worth retrying: its message, and the wait the server asked for."""

    __slots__ = ("message", "retry_after")

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.message = message
        self.retry_after = retry_after


class Transport:
    """One validated coordinator address, one lazily created session, one time budget."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        allow_insecure_transport: bool,
        timeout: tuple[float, float],
        budget_seconds: float,
        max_attempts: int,
        backoff_seconds: float,
        started: float | None = None,
    ) -> None:
        """`started` (a `time.monotonic()` value) anchors the budget at the start of
        the run; without it, the budget starts with the first request."""
        _check_token(token)
        if budget_seconds <= 0 or max_attempts < 1 or backoff_seconds < 0:
            raise CapabilityError(
                "budget_seconds must be positive, max_attempts at least 1 and "
                "backoff_seconds not negative"
            )
        if min(timeout) <= 0:
            raise CapabilityError("the connect and read timeouts must be positive")
        self._token = token
        self._connect_timeout, self._read_timeout = timeout
        self._budget = budget_seconds
        self._max_attempts = max_attempts
        self._backoff = backoff_seconds
        self._deadline: float | None = None if started is None else started + budget_seconds
        self.base, self.host_port = _validate_base_url(base_url, allow_insecure_transport)
        self._origin = _origin_of(self.base)
        self._session: requests.Session | None = None
        from engine.capabilities.coordinator.deadline import SocketCutter

        self._cutter = SocketCutter()
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<coordinator transport {self.host_port}>"

    def _get_session(self) -> requests.Session:
        if self._session is None:
            import requests  # lazy: importing requests is slow

            session = requests.Session()
            bearer = f"Bearer {self._token}"

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
        return CapabilityError(_scrub(f"coordinator at {self.host_port}: {message}", self._token))

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
            self._deadline = time.monotonic() + self._budget
        deadline = self._deadline
        attempt = 0
        while True:
            attempt += 1
            if deadline - time.monotonic() < _MIN_ATTEMPT_SECONDS:
                raise self.fail(
                    f"the {self._budget:g}s time budget for coordinator requests is spent; "
                    f"not {action}"
                )
            with self._cutter.cut_at(deadline):
                outcome = self._attempt(method, path, params, body, action, right, expected,
                                        deadline)
            if not isinstance(outcome, _Transient):
                # An answer that echoes the token never carries it further.
                return _scrub_deep(outcome, self._token)
            reason = self._give_up_reason(outcome, attempt, deadline)
            if reason is not None:
                raise self.fail(f"{outcome.message} ({reason})")
            _sleep(self._delay(attempt, outcome.retry_after))

    def _give_up_reason(self, failure: _Transient, attempt: int, deadline: float) -> str | None:
        attempts = f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}"
        if attempt >= self._max_attempts:
            return attempts
        remaining = deadline - time.monotonic()
        if failure.retry_after is not None and failure.retry_after > remaining:
            return (
                f"{attempts}: it asked to retry after {math.ceil(failure.retry_after)}s, "
                f"beyond the {self._budget:g}s time budget"
            )
        # The longest wait jitter could pick decides, so that jitter never changes it.
        if self._longest_delay(attempt, failure.retry_after) + _MIN_ATTEMPT_SECONDS > remaining:
            return f"{attempts}: another try would not fit the {self._budget:g}s time budget"
        return None

    def _longest_delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(_BACKOFF_CAP_SECONDS, self._backoff * 2.0 ** (attempt - 1))
        return max(backoff, retry_after or 0.0)

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        import random

        backoff = min(_BACKOFF_CAP_SECONDS, self._backoff * 2.0 ** (attempt - 1))
        jittered = random.uniform(backoff / 2, backoff)
        return max(jittered, retry_after or 0.0)

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
        """One try, following allowed redirects: the decoded answer, a _Transient, or a
        raised CapabilityError for what retrying cannot fix."""
        import requests  # lazy: importing requests is slow
        import urllib3.exceptions

        failures = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)
        session = self._get_session()
        headers = {"Content-Type": "application/json"} if body is not None else None
        url = self.base + path
        for hop in range(_MAX_REDIRECTS + 1):
            remaining = max(deadline - time.monotonic(), _MIN_ATTEMPT_SECONDS)
            read_timeout = min(self._read_timeout, remaining)
            problem: CapabilityError | _Transient | None = None
            try:
                self.requests_sent += 1
                response = session.request(
                    method,
                    url,
                    params=params if hop == 0 else None,
                    data=body,
                    headers=headers,
                    timeout=(min(self._connect_timeout, remaining), read_timeout),
                    allow_redirects=False,
                    stream=True,
                )
            except failures as exc:
                problem = self._transport_error(exc, action, deadline)
            if problem is not None:
                return _raise_or_return(problem)
            try:
                status = response.status_code
                if 300 <= status < 400:
                    url = self._redirect_target(url, response, method, action)
                    continue
                if status == 429 or 500 <= status < 600:
                    return _Transient(
                        _with_excerpt(
                            f"answered HTTP {status} while {action}", self._excerpt(response)
                        ),
                        _retry_after(response.headers.get("Retry-After")),
                    )
                if status != expected:
                    message = _status_message(status, expected, action, right)
                    raise self.fail(_with_excerpt(message, self._excerpt(response)))
                raw = self._read_limited(response, action, deadline, read_timeout)
            except failures as exc:
                problem = self._transport_error(exc, action, deadline)
            finally:
                response.close()
            if problem is not None:
                return _raise_or_return(problem)
            try:
                return json.loads(raw)
            except (ValueError, RecursionError) as exc:
                # ValueError covers bad UTF-8, bad JSON and over-long integer literals;
                # RecursionError, a document nested too deep to decode.
                detail = str(exc) if isinstance(exc, ValueError) else "nested too deep"
                problem = self.fail(f"answered with malformed JSON while {action}: {detail}")
            raise problem
        raise self.fail(f"redirected more than {_MAX_REDIRECTS} times while {action}")

    def _redirect_target(
        self, url: str, response: requests.Response, method: str, action: str
    ) -> str:
        status = response.status_code
        location = response.headers.get("Location")
        if not location:
            raise self.fail(f"redirected ({status}) without a Location while {action}")
        target = urljoin(url, location)
        origin = _origin_of(target)
        if origin != self._origin:
            raise self.fail(
                f"redirected ({status}) to {_shown_origin(target)} while {action}; "
                "redirects that leave https or change host are refused: configure the "
                "final coordinator address instead"
            )
        if method != "GET" and status not in (307, 308):
            raise self.fail(
                f"redirected ({status}) while {action}; a {status} would turn the {method} "
                "into a GET, so it is refused"
            )
        return target

    def _read_limited(
        self, response: requests.Response, action: str, deadline: float, read_timeout: float
    ) -> bytes:
        declared = response.headers.get("Content-Length")
        if declared is not None and declared.strip().isdigit() and (
            int(declared) > MAX_RESPONSE_BYTES
        ):
            raise self._oversized(action)
        sock = _socket_of(response)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._budget_spent(action)
            if sock is not None:
                # Each read waits at most what is left of the budget, so that a slow
                # trickle of bytes cannot outlast it.
                sock.settimeout(min(read_timeout, remaining))
            chunk = response.raw.read1(_CHUNK, decode_content=True)
            if not chunk and self._cutter.cut_happened:
                raise self._budget_spent(action)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._oversized(action)
            chunks.append(chunk)

    def _budget_spent(self, action: str) -> CapabilityError:
        return self.fail(
            f"did not finish answering within the {self._budget:g}s time budget for "
            f"coordinator requests while {action}"
        )

    def _oversized(self, action: str) -> CapabilityError:
        limit = MAX_RESPONSE_BYTES // (1024 * 1024)
        return self.fail(f"answer is larger than {limit} MiB while {action}; stopped reading")

    def _excerpt(self, response: requests.Response) -> str:
        try:
            raw = response.raw.read1(_EXCERPT * 4, decode_content=True)
        except Exception:  # an excerpt is best effort; the status code is the message
            return ""
        from engine.common.secret import redact

        # The read may have cut a token in two: a trailing piece of it goes too.
        return redact(" ".join(raw.decode("utf-8", "replace").split()), self._token,
                      cut=True)[:_EXCERPT]

    def _transport_error(
        self, exc: BaseException, action: str, deadline: float
    ) -> CapabilityError | _Transient:
        import socket
        import ssl

        import requests  # lazy: importing requests is slow
        import urllib3.exceptions

        if deadline - time.monotonic() < _MIN_ATTEMPT_SECONDS and self._cutter.cut_happened:
            # The total deadline cut the connection, whatever the read saw.
            return self.fail(
                f"did not finish answering within the {self._budget:g}s time budget for "
                f"coordinator requests while {action} (connect, headers and body count)"
            )
        linked = _exception_chain(exc)
        chain = [e for _depth, e in linked]
        detail = _scrub(_innermost_text(linked), self._token)
        timed_out = isinstance(exc, requests.exceptions.Timeout) or any(
            isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in chain
        )
        if timed_out and deadline - time.monotonic() < _MIN_ATTEMPT_SECONDS:
            # The wait had been cut down to what was left of the budget.
            return self._budget_spent(action)
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return _Transient(
                f"timed out connecting after {_seconds(self._connect_timeout)} while {action}"
            )
        if timed_out:
            return _Transient(
                f"did not answer within {_seconds(self._read_timeout)} (read timeout) "
                f"while {action}"
            )
        if isinstance(exc, requests.exceptions.SSLError) or any(
            isinstance(e, ssl.SSLError) for e in chain
        ):
            return self.fail(f"not reachable: TLS failure while {action}: {detail}")
        if any(
            isinstance(e, socket.gaierror | urllib3.exceptions.NameResolutionError) for e in chain
        ):
            return self.fail(f"not reachable: DNS lookup failed while {action}: {detail}")
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return _Transient(f"not reachable: connection refused while {action}")
        if any(
            isinstance(
                e,
                requests.exceptions.ConnectionError
                | requests.exceptions.ChunkedEncodingError
                | urllib3.exceptions.ProtocolError
                | ConnectionError,
            )
            for e in chain
        ):
            return _Transient(f"connection failed while {action}: {detail}")
        return self.fail(f"request failed while {action}: {type(exc).__name__}: {detail}")


def _raise_or_return(problem: CapabilityError | _Transient) -> _Transient:
    if isinstance(problem, CapabilityError):
        raise problem
    return problem


def _socket_of(response: requests.Response) -> socket.socket | None:
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    return sock if hasattr(sock, "settimeout") else None


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        # Anything over a day is "too long" alike; the cap keeps the number printable.
        return 86400.0 if len(value) > 9 else float(min(int(value), 86400))
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # `-0000`: UTC, with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, when.timestamp() - time.time()), 86400.0)


def _with_excerpt(message: str, excerpt: str) -> str:
    return f"{message}: {excerpt}" if excerpt else message


def _validate_base_url(base_url: str, allow_insecure: bool) -> tuple[str, str]:
    """Return ``(normalised base URL, "host:port")`` or raise CapabilityError."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise CapabilityError("the coordinator URL is empty")
    if any(c.isspace() or ord(c) < 0x20 for c in base_url):
        raise CapabilityError("the coordinator URL contains whitespace or control characters")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise CapabilityError(f"the coordinator URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not allow_insecure:
            raise CapabilityError(
                "the coordinator URL uses plain http, which is refused: the API token would "
                f"travel unencrypted; use https, or accept the risk explicitly: "
                f"{_INSECURE_OPTION} on the command line, "
                "WorkflowContext(allow_insecure_transport=True) in a Python script"
            )
    elif scheme != "https":
        shown = parts.scheme or "(none)"
        raise CapabilityError(
            f"the coordinator URL must start with https:// (scheme {shown!r} is not supported)"
        )
    if not parts.hostname:
        raise CapabilityError("the coordinator URL is malformed: it names no host")
    if parts.username is not None or parts.password is not None:
        raise CapabilityError("the coordinator URL must not contain credentials")
    if parts.query or parts.fragment:
        raise CapabilityError("the coordinator URL must not contain a query or fragment")
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    host_port = f"{shown_host}:{port if port is not None else (443 if scheme == 'https' else 80)}"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}", host_port


def _origin_of(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a URL, None when it has no usable origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def _shown_origin(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "a malformed location"
    origin = f"{parts.scheme or '?'}://{parts.hostname or '?'}"
    return f"{origin}:{port}" if port is not None else origin


def _status_message(status: int, expected: int, action: str, right: str) -> str:
    # The hint explains a refused read; a refused submission has no such excuse.
    reading = "jobs:submit" not in right
    if status == 401:
        hint = f" ({_JOB_TOKEN_HINT})" if reading else ""
        return (
            f"refused the API token (401 Unauthorized) while {action}; the token is invalid "
            f"or expired, or lacks the right to {right}{hint}"
        )
    if status == 403:
        hint = f"; {_JOB_TOKEN_HINT}" if reading else ""
        return f"the API token lacks the right to {right} (403 Forbidden) while {action}{hint}"
    return f"answered HTTP {status} (expected {expected}) while {action}"


def _exception_chain(exc: BaseException) -> list[tuple[int, BaseException]]:
    """Every exception reachable through causes, contexts, ``reason`` and args, with depth."""
    seen: set[int] = set()
    found: list[tuple[int, BaseException]] = []
    pending: list[tuple[int, BaseException]] = [(0, exc)]
    while pending:
        depth, current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append((depth, current))
        linked: list[Any] = [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *current.args,
        ]
        pending.extend((depth + 1, e) for e in linked if isinstance(e, BaseException))
    return found


def _innermost_text(chain: list[tuple[int, BaseException]]) -> str:
    """The most specific message in the chain (the deepest non-empty one)."""
    import ssl

    for _depth, candidate in chain:
        if isinstance(candidate, ssl.SSLCertVerificationError):
            verify = candidate.verify_message or candidate.reason or "unknown reason"
            return f"certificate verification failed: {verify}"
    texts = [(depth, str(e)) for depth, e in chain if str(e)]
    if not texts:
        return "unknown error"
    return max(texts, key=lambda item: item[0])[1]
