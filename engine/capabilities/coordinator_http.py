"""Job state read from the Reactorcide coordinator's HTTP API.

Only read-only lookups plus the triggers submission live here. The API token travels
only over HTTPS unless the operator passed ``--allow-insecure-transport``; redirects are
never followed; no message ever contains the token.

``requests`` is imported on first use, never when this module is imported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from engine.capabilities.base import CapabilityError

if TYPE_CHECKING:
    import requests

__all__ = [
    "MAX_RESPONSE_BYTES",
    "RUNNING_STATUSES",
    "TERMINAL_STATUSES",
    "HttpJobState",
    "submit_triggers",
]

RUNNING_STATUSES: tuple[str, ...] = ("submitted", "queued", "running", "cancelling")
TERMINAL_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled", "timeout")
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

_INSECURE_OPTION = "--allow-insecure-transport"
_CHUNK = 64 * 1024
_EXCERPT = 200
_REDACTED = "***"


def _scrub(text: str, token: str) -> str:
    """Remove every form of the token that could appear in ``text``."""
    for form in {token, quote(token, safe=""), quote(token)}:
        if form:
            text = text.replace(form, _REDACTED)
    return text


def _describe_timeout(seconds: float) -> str:
    return f"{seconds:g}s"


class _Transport:
    """One validated coordinator address, one lazily created session."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        allow_insecure_transport: bool,
        timeout: tuple[float, float],
    ) -> None:
        if not isinstance(token, str) or not token:
            raise CapabilityError("the coordinator API token is empty")
        if token != token.strip() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
            raise CapabilityError(
                "the coordinator API token contains whitespace or control characters"
            )
        self._token = token
        self._timeout = timeout
        self.base, self.host_port = _validate_base_url(base_url, allow_insecure_transport)
        self._session: requests.Session | None = None

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
            session.headers["User-Agent"] = "reactorcide-pipeline-engine"
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
        """Send one request and return the decoded JSON body of an ``expected`` answer."""
        import requests  # lazy: importing requests is slow

        session = self._get_session()
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            response = session.request(
                method,
                self.base + path,
                params=params,
                data=body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc, action) from None
        try:
            status = response.status_code
            if 300 <= status < 400:
                raise self.fail(
                    f"redirected ({status}) to {_location_origin(response.headers)} "
                    f"while {action}; redirects are refused, configure the final "
                    "coordinator address instead"
                )
            if status != expected:
                excerpt = self._excerpt(response)
                raise self.fail(_status_message(status, expected, action, right, excerpt))
            raw = self._read_limited(response, action)
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc, action) from None
        finally:
            response.close()
        try:
            return json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.fail(f"answered with malformed JSON while {action}: {exc}") from None

    def _read_limited(self, response: requests.Response, action: str) -> bytes:
        declared = response.headers.get("Content-Length")
        if (
            declared is not None
            and declared.strip().isdigit()
            and (int(declared) > MAX_RESPONSE_BYTES)
        ):
            raise self._oversized(action)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._oversized(action)
            chunks.append(chunk)
        return b"".join(chunks)

    def _oversized(self, action: str) -> CapabilityError:
        limit = MAX_RESPONSE_BYTES // (1024 * 1024)
        return self.fail(f"answer is larger than {limit} MiB while {action}; stopped reading")

    def _excerpt(self, response: requests.Response) -> str:
        try:
            raw = next(response.iter_content(_EXCERPT * 4), b"")
        except Exception:  # an excerpt is best effort; the status code is the message
            return ""
        text = raw.decode("utf-8", "replace")
        text = " ".join(text.split())[:_EXCERPT]
        return text

    def _transport_error(self, exc: BaseException, action: str) -> CapabilityError:
        import socket
        import ssl

        import requests  # lazy: importing requests is slow
        import urllib3.exceptions

        linked = _exception_chain(exc)
        chain = [e for _depth, e in linked]
        detail = _scrub(_innermost_text(linked), self._token)
        connect_s, read_s = self._timeout
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return self.fail(
                f"timed out connecting after {_describe_timeout(connect_s)} while {action}"
            )
        if isinstance(exc, requests.exceptions.ReadTimeout) or any(
            isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in chain
        ):
            return self.fail(
                f"did not answer within {_describe_timeout(read_s)} (read timeout) while {action}"
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
            return self.fail(f"not reachable: connection refused while {action}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return self.fail(f"not reachable: connection failed while {action}: {detail}")
        return self.fail(f"request failed while {action}: {type(exc).__name__}: {detail}")


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
                f"travel unencrypted; use https, or pass {_INSECURE_OPTION} on the command "
                "line to accept the risk"
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
    netloc = parts.netloc
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}", host_port


def _location_origin(headers: Mapping[str, str]) -> str:
    location = headers.get("Location")
    if not location:
        return "an unspecified location"
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:
        return "a malformed location"
    if not parts.scheme and not parts.hostname:
        return "another path on the same host"
    origin = f"{parts.scheme or '?'}://{parts.hostname or '?'}"
    return f"{origin}:{port}" if port is not None else origin


def _status_message(status: int, expected: int, action: str, right: str, excerpt: str) -> str:
    if status == 401:
        message = (
            f"refused the API token (401 Unauthorized) while {action}; the token is invalid "
            f"or expired, or lacks the right to {right}"
        )
    elif status == 403:
        message = f"the API token lacks the right to {right} (403 Forbidden) while {action}"
    else:
        message = f"answered HTTP {status} (expected {expected}) while {action}"
    return f"{message}: {excerpt}" if excerpt else message


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


def _time_key(value: Any) -> tuple[int, float, str]:
    """Sort key for a timestamp: parsed instants compare as instants, others as text."""
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

    Each status is listed at most once per instance; later questions are answered
    from that snapshot. Not meant to be shared across evaluations.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        allow_insecure_transport: bool = False,
        workflow_id: str | None = None,
        timeout: tuple[float, float] = (3.0, 10.0),
        max_pages: int = 50,
        page_size: int = 100,
    ) -> None:
        if max_pages < 1 or page_size < 1:
            raise CapabilityError("max_pages and page_size must be at least 1")
        self._transport = _Transport(
            base_url, token, allow_insecure_transport=allow_insecure_transport, timeout=timeout
        )
        self._workflow_id = workflow_id
        self._max_pages = max_pages
        self._page_size = page_size
        self._scans: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the HTTP connection pool (the cache is kept)."""
        self._transport.close()

    def is_job_running(self, job_name: str) -> bool:
        """True when a job of that name is submitted, queued, running or cancelling."""
        return any(job_name in self._scan(status) for status in RUNNING_STATUSES)

    def get_job_result(self, job_name: str) -> dict[str, Any] | None:
        """The most recent finished job of that name, or None when there is none."""
        matches = [job for s in TERMINAL_STATUSES for job in self._scan(s).get(job_name, [])]
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
        return {
            "job_id": best.get("job_id"),
            "name": best.get("name"),
            "status": best.get("status"),
            "exit_code": best.get("exit_code"),
            "started_at": best.get("started_at"),
            "completed_at": best.get("completed_at"),
        }

    def _scan(self, status: str) -> dict[str, list[dict[str, Any]]]:
        """All jobs in ``status`` grouped by name; listed once, then cached."""
        with self._lock:
            cached = self._scans.get(status)
            if cached is None:
                cached = self._list_status(status)
                self._scans[status] = cached
            return cached

    def _list_status(self, status: str) -> dict[str, list[dict[str, Any]]]:
        by_name: dict[str, list[dict[str, Any]]] = {}
        seen_ids: set[str] = set()
        action = f"listing jobs with status {status!r}"
        offset = 0
        for _page in range(self._max_pages):
            params: dict[str, str | int] = {
                "status": status,
                "limit": self._page_size,
                "offset": offset,
            }
            if self._workflow_id is not None:
                params["workflow_id"] = self._workflow_id
            data = self._transport.request_json(
                "GET",
                "/api/v1/jobs",
                params=params,
                action=action,
                right="read jobs (jobs:read)",
                expected=200,
            )
            jobs, total = self._parse_page(data, action)
            for job in jobs:
                job_id = job.get("job_id")
                if isinstance(job_id, str):
                    if job_id in seen_ids:  # a job that shifted between pages
                        continue
                    seen_ids.add(job_id)
                by_name.setdefault(job["name"], []).append(job)
            offset += len(jobs)
            if len(jobs) < self._page_size or (total is not None and offset >= total):
                return by_name
        raise self._transport.fail(
            f"more than {self._max_pages} pages of {self._page_size} jobs with status "
            f"{status!r}; refusing to scan further (max_pages={self._max_pages})"
        )

    def _parse_page(self, data: Any, action: str) -> tuple[list[dict[str, Any]], int | None]:
        def shape(problem: str) -> CapabilityError:
            return self._transport.fail(
                f"answered with an unexpected shape while {action}: {problem}"
            )

        if not isinstance(data, dict):
            raise shape(f"expected a JSON object, got {type(data).__name__}")
        jobs = data.get("jobs")
        if jobs is None:
            jobs = []
        if not isinstance(jobs, list):
            raise shape("'jobs' is not a list")
        total = data.get("total")
        if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
            raise shape("'total' is not an integer")
        checked: list[dict[str, Any]] = []
        for index, job in enumerate(jobs):
            if not isinstance(job, dict):
                raise shape(f"jobs[{index}] is not an object")
            if not isinstance(job.get("name"), str):
                raise shape(f"jobs[{index}] has no string 'name'")
            try:
                _optional(job, "job_id", str)
                _optional(job, "status", str)
                _optional(job, "exit_code", int)
                for key in ("created_at", "started_at", "completed_at"):
                    _optional(job, key, str)
            except ValueError as exc:
                raise shape(f"jobs[{index}]: {exc}") from None
            checked.append(job)
        return checked, total


def submit_triggers(
    base_url: str,
    token: str,
    job_id: str,
    payload_bytes: bytes,
    *,
    allow_insecure_transport: bool = False,
    timeout: tuple[float, float] = (3.0, 30.0),
) -> list[str]:
    """POST a triggers payload for ``job_id``; return the created job ids (expects 201)."""
    if not isinstance(job_id, str) or not job_id or job_id in {".", ".."}:
        raise CapabilityError("cannot submit triggers: the job id is empty or invalid")
    transport = _Transport(
        base_url, token, allow_insecure_transport=allow_insecure_transport, timeout=timeout
    )
    action = "submitting triggers"
    try:
        data = transport.request_json(
            "POST",
            f"/api/v1/jobs/{quote(job_id, safe='')}/triggers",
            body=bytes(payload_bytes),
            action=action,
            right="submit jobs (jobs:submit)",
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
