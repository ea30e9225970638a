"""Coordinators that misbehave on purpose: real TLS servers on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from pathlib import Path
from types import TracebackType


class TrickleServer:
    """Answers every request with one header byte every `interval` seconds, forever
    (or `body` trickled after complete headers, with `trickle_body=True`)."""

    def __init__(self, cert: tuple[Path, Path], *, interval: float = 0.2,
                 trickle_body: bool = False, answer: bytes = b"") -> None:
        self.interval = interval
        self.trickle_body = trickle_body
        self.answer = answer
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(cert[0]), str(cert[1]))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                raw, _ = self._listener.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(raw,), daemon=True).start()

    def _answer(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError), raw:
            raw.settimeout(5)
            conn = self._context.wrap_socket(raw, server_side=True)
            conn.recv(65536)
            if self.trickle_body:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000000\r\n\r\n")
                head = b""
            else:
                head = b"HTTP/1.1 200 OK\r\n"
                conn.sendall(head)
            filler = b"X-Slow: " + b"a" * 1000000
            for index in range(len(filler)):
                if self._stop.is_set():
                    return
                conn.sendall(filler[index:index + 1] if not self.trickle_body else b" ")
                time.sleep(self.interval)
