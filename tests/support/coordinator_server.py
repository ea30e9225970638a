"""A fake Reactorcide coordinator: a real HTTP(S) server on 127.0.0.1 for tests.

It serves the parts of the API the engine uses, checks the bearer token, records
every request and can serve canned faults before normal handling. Where the real
coordinator has quirks a client must survive, it has them too: a ``limit`` above 100
silently becomes 20, ``total`` may be only the page's length (``page_length_total``),
a triggers payload whose ``operation_id`` was already accepted for that parent job
creates nothing new, and a payload the real coordinator would refuse (see
``coordinator_payload``) gets its answer: 400 without detail, or 500 for an ``org`` key.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support import coordinator_payload

DEFAULT_TOKEN = "tok-SECRET-123"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class Fault:
    """A canned answer served instead of normal handling.

    ``delay`` waits before the headers, ``trickle`` between single bytes of the body;
    ``reset`` aborts the connection (TCP RST) instead of answering; with
    ``after_handling`` the request is handled normally first, so only the answer is lost;
    ``chunked`` sends the body with chunked transfer encoding (no length at all).
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    omit_content_length: bool = False
    reset: bool = False
    after_handling: bool = False
    trickle: float = 0.0
    chunked: bool = False


@dataclass
class TriggerSubmission:
    """A triggers payload received for a job."""

    job_id: str
    body: bytes
    payload: dict[str, Any]
    created_job_ids: list[str]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: FakeCoordinator, tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        self.tls = tls
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        # Headers and body go out in separate writes; without this, Nagle plus the
        # client's delayed ACK adds ~40 ms to every answer.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            # The handshake runs lazily in the handler thread, so a client that
            # fails it cannot stall the accept loop.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # TLS failures and clients hanging up early are expected in these tests.
        self.owner.errors.append(repr(client_address))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests assert on recorded requests, not on logs."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.server.owner
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        with owner.lock:
            owner.requests.append(request)
            fault = owner.faults.popleft() if owner.faults else None
        try:
            if fault is not None and fault.reset:
                if fault.after_handling and self._authorized():
                    owner.handle(request)
                self._reset()
                return
            if fault is not None:
                self._serve_fault(fault)
                return
            if not self._authorized():
                self._send_json(401, {"error": "unauthorized"})
                return
            status, payload = owner.handle(request)
            self._send_json(status, payload)
        except OSError:  # the client hung up (e.g. it stopped reading an oversized body)
            self.close_connection = True

    def _authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.server.owner.token}"

    def _reset(self) -> None:
        """Abort the connection: with a zero linger, closing it sends a TCP RST."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()
        self.connection.close()

    def _serve_fault(self, fault: Fault) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        self.send_response(fault.status)
        for name, value in fault.headers.items():
            self.send_header(name, value)
        if fault.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif fault.omit_content_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        elif not any(name.lower() == "content-length" for name in fault.headers):
            self.send_header("Content-Length", str(len(fault.body)))
        self.end_headers()
        if fault.chunked:
            for start in range(0, len(fault.body), 65536):
                piece = fault.body[start:start + 65536]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if not fault.trickle:
            self.wfile.write(fault.body)
            return
        for index in range(len(fault.body)):
            self.wfile.write(fault.body[index : index + 1])
            time.sleep(fault.trickle)

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeCoordinator:
    """A fake coordinator on 127.0.0.1 with an ephemeral port, optionally over TLS.

    ``jobs`` holds JobResponse-like dicts; ``requests`` and ``triggers_received``
    record what clients sent. Use as a context manager or call ``close()``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        tls: tuple[Path, Path] | None = None,
        jobs: list[dict[str, Any]] | None = None,
    ) -> None:
        self.token = token
        self.jobs: list[dict[str, Any]] = list(jobs or [])
        self.requests: list[RecordedRequest] = []
        self.triggers_received: list[TriggerSubmission] = []
        # Why each refused triggers payload was refused (the answer itself says nothing).
        self.refusals: list[str] = []
        self.operations: dict[tuple[str, str], list[str]] = {}
        self.page_length_total = False
        self.faults: deque[Fault] = deque()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self._job_counter = 0
        context: ssl.SSLContext | None = None
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
        self._server = _Server(self, context)
        self.port: int = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-coordinator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def __enter__(self) -> FakeCoordinator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_job(
        self,
        name: str,
        status: str,
        *,
        job_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Append a job with plausible defaults for the fields not given; return it."""
        with self.lock:
            self._job_counter += 1
            number = self._job_counter
        job: dict[str, Any] = {
            "job_id": job_id or f"job-{number:05d}",
            "name": name,
            "status": status,
            "created_at": f"2025-01-01T00:{number // 60 % 60:02d}:{number % 60:02d}Z",
            "started_at": None,
            "completed_at": None,
            "workflow_id": None,
            "project_id": "project-1",
        }
        job.update(fields)
        with self.lock:
            self.jobs.append(job)
        return job

    def enqueue_fault(
        self,
        status: int,
        body: bytes | str = b"",
        headers: dict[str, str] | None = None,
        *,
        delay: float = 0.0,
        omit_content_length: bool = False,
        trickle: float = 0.0,
        chunked: bool = False,
    ) -> None:
        """Serve this answer to the next request, before auth and normal handling."""
        data = body.encode() if isinstance(body, str) else body
        fault = Fault(
            status, data, dict(headers or {}), delay, omit_content_length, trickle=trickle,
            chunked=chunked,
        )
        with self.lock:
            self.faults.append(fault)

    def enqueue_reset(self, *, after_handling: bool = False) -> None:
        """Abort the next connection instead of answering (after handling it, if asked)."""
        with self.lock:
            self.faults.append(Fault(0, reset=True, after_handling=after_handling))

    def requests_to(self, path: str, method: str = "GET") -> list[RecordedRequest]:
        """Recorded requests for one path and method."""
        return [r for r in self.requests if r.path == path and r.method == method]

    def handle(self, request: RecordedRequest) -> tuple[int, Any]:
        """Answer an authenticated request; returns (status, JSON payload)."""
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        if segments[:3] != ["api", "v1", "jobs"]:
            return 404, {"error": "not found"}
        rest = segments[3:]
        if request.method == "GET" and not rest:
            return self._list_jobs(request.query)
        if request.method == "GET" and len(rest) == 1:
            return self._get_job(rest[0])
        if request.method == "POST" and len(rest) == 2 and rest[1] == "triggers":
            return self._submit_triggers(rest[0], request.body)
        return 404, {"error": "not found"}

    def _list_jobs(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        def single(name: str) -> str | None:
            values = query.get(name)
            return values[-1] if values else None

        # As the coordinator does: a missing or out-of-range limit silently becomes the
        # default, a bad offset becomes 0.
        limit = _int_or(single("limit"), DEFAULT_LIMIT)
        if not 1 <= limit <= MAX_LIMIT:
            limit = DEFAULT_LIMIT
        offset = max(_int_or(single("offset"), 0), 0)
        with self.lock:
            jobs = list(self.jobs)
        for key in ("status", "workflow_id", "project_id"):
            wanted = single(key)
            if wanted is not None:
                jobs = [job for job in jobs if job.get(key) == wanted]
        jobs.sort(key=lambda job: (job.get("created_at") or "", job.get("job_id") or ""))
        jobs.reverse()  # newest first, as the coordinator lists them
        page = jobs[offset : offset + limit]
        total = len(page) if self.page_length_total else len(jobs)
        return 200, {"jobs": page, "total": total, "limit": limit, "offset": offset}

    def _get_job(self, job_id: str) -> tuple[int, Any]:
        with self.lock:
            for job in self.jobs:
                if job.get("job_id") == job_id:
                    return 200, job
        return 404, {"error": "job not found"}

    def _submit_triggers(self, job_id: str, body: bytes) -> tuple[int, Any]:
        with self.lock:
            known = any(job.get("job_id") == job_id for job in self.jobs)
        if not known:
            return 404, {"error": "job not found"}
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return 400, {"error": "invalid JSON"}
        try:
            jobs = coordinator_payload.check(payload)
        except coordinator_payload.Refused as refused:
            # The real coordinator says no more than this; the reason is kept for tests.
            with self.lock:
                self.refusals.append(refused.why)
            if refused.status == 500:
                return 500, {"error": "internal_error", "message": "Internal server error"}
            return refused.status, {"error": "invalid_input", "message": "Invalid input data"}
        operation_id = payload.get("operation_id") or ""
        with self.lock:
            if operation_id and (job_id, operation_id) in self.operations:
                created = []  # the workflow exists already: nothing is created twice
            else:
                created = [f"{operation_id}-{i}" for i in range(len(jobs))]
                self.operations[(job_id, operation_id)] = created
            self.triggers_received.append(TriggerSubmission(job_id, body, payload, created))
        return 201, {"created_job_ids": created, "count": len(created)}


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
