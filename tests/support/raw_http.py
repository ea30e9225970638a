"""A misbehaving HTTP server on 127.0.0.1: each answer is a script of raw writes, pauses
and hang-ups.

It produces what a well-behaved server never sends: a Content-Length that lies, a body
that stops or trickles, a connection closed or reset mid-answer. Every request is
recorded as sent (request line, headers with their values, body) with the number of
the connection it came on, and every connection the client closed is noted.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Send:
    """Write these bytes."""

    data: bytes


@dataclass(frozen=True)
class Pause:
    """Send nothing for `seconds`."""

    seconds: float


@dataclass(frozen=True)
class Trickle:
    """Write these bytes one at a time, pausing `every` seconds after each."""

    data: bytes
    every: float


@dataclass(frozen=True)
class Hold:
    """Send nothing more until the client hangs up (or the server closes)."""


@dataclass(frozen=True)
class Close:
    """Close the connection (an orderly FIN)."""


@dataclass(frozen=True)
class Reset:
    """Abort the connection (TCP RST)."""


Step = Send | Pause | Trickle | Hold | Close | Reset


@dataclass(frozen=True)
class Received:
    """One request as it came: the connection it came on, its head, its body."""

    connection: int
    request_line: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        """Every value sent under `name` (compared without case, as HTTP does)."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def head(status: int, headers: dict[str, str] | None = None) -> bytes:
    """A status line and headers, as given (no header is added)."""
    lines = [f"HTTP/1.1 {status} Status"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Send:
    """A complete answer with a true Content-Length."""
    return Send(head(status, {"Content-Length": str(len(body)), **(headers or {})}) + body)


def gzipped(data: bytes) -> bytes:
    """`data` gzip-compressed, as a server that ignores Accept-Encoding sends it."""
    return gzip.compress(data, mtime=0)


def chunked(data: bytes, size: int = 7) -> bytes:
    """`data` in chunked transfer encoding."""
    pieces = [data[i:i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


class RawHTTPServer:
    """Plain HTTP on 127.0.0.1 with an ephemeral port; answers from scripts, in order.

    A request with no script left gets ``200 {}``. Use as a context manager.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.received: list[Received] = []
        self.hung_up: set[int] = set()
        self._scripts: deque[tuple[Step, ...]] = deque()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True,
                                        name=f"raw-http-{self.port}")
        self._thread.start()

    def __enter__(self) -> RawHTTPServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def enqueue(self, *steps: Step) -> None:
        """Answer the next request without a script with these steps."""
        with self._lock:
            self._scripts.append(steps)

    def wait_hung_up(self, connection: int, timeout: float = 5.0) -> bool:
        """Whether the client closes `connection` within `timeout` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: connection in self.hung_up, timeout)

    def close(self) -> None:
        """Stop accepting, end every connection and release the port."""
        self._closing.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        with self._lock:
            connections = list(self._open)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        number = 0
        while not self._closing.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()
            number += 1

    def _serve(self, conn: socket.socket, number: int) -> None:
        buffered = b""
        try:
            while True:
                request, buffered = _read_request(conn, buffered, number)
                if request is None:
                    self._note_hang_up(number)
                    return
                with self._lock:
                    self.received.append(request)
                    script = self._scripts.popleft() if self._scripts else (
                        answer(200, b"{}"),)
                if not self._play(conn, number, script):
                    return
        except OSError:
            self._note_hang_up(number)
        finally:
            conn.close()

    def _play(self, conn: socket.socket, number: int, script: tuple[Step, ...]) -> bool:
        """Run one script; False when the connection is over."""
        for step in script:
            if isinstance(step, Send):
                conn.sendall(step.data)
            elif isinstance(step, Pause):
                time.sleep(step.seconds)
            elif isinstance(step, Trickle):
                for index in range(len(step.data)):
                    conn.sendall(step.data[index:index + 1])
                    time.sleep(step.every)
            elif isinstance(step, Hold):
                conn.settimeout(30)
                while conn.recv(65536):
                    pass
                self._note_hang_up(number)
                return False
            elif isinstance(step, Close):
                conn.shutdown(socket.SHUT_WR)
                return False
            else:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return False
        return True

    def _note_hang_up(self, number: int) -> None:
        with self._changed:
            self.hung_up.add(number)
            self._changed.notify_all()


def _read_request(conn: socket.socket, buffered: bytes,
                  number: int) -> tuple[Received | None, bytes]:
    while b"\r\n\r\n" not in buffered:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buffered += data
    raw_head, _, rest = buffered.partition(b"\r\n\r\n")
    request_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = [(name.strip(), value.strip())
               for name, _, value in (line.partition(":") for line in lines)]
    length = next((int(v) for k, v in headers if k.lower() == "content-length"), 0)
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None, b""
        rest += data
    return Received(number, request_line, headers, rest[:length]), rest[length:]
