"""A total deadline for HTTP requests: connect, TLS handshake, headers and body.

A socket timeout bounds each read, not the request: a server that sends one byte of a
header every half second never trips it. Connections made through `mount` are
tracked, and `cut_at` shuts the sockets of the requests in flight down when the
deadline passes, which ends whatever read or handshake is blocked on them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    import requests


class SocketCutter:
    """The connections of one HTTP client, and the means to cut them all at once."""

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.cut_happened = False

    def track(self, connection: Any) -> None:
        """Cut `connection` at the deadline; at once when the deadline has passed (a
        connection made late, as when loading the HTTP client took the time left)."""
        with self._lock:
            self._connections.add(connection)
            late = self.cut_happened
        if late:
            _shut(connection)

    def cut(self) -> None:
        """Shut every tracked connection's socket down (reads then end at once)."""
        with self._lock:
            # Set under the lock: a connection tracked from now on sees it and is cut
            # by `track`, any other is in the list.
            self.cut_happened = True
            connections = list(self._connections)
        for connection in connections:
            _shut(connection)

    @contextlib.contextmanager
    def cut_at(self, deadline: float) -> Iterator[None]:
        """Within the block, every tracked connection is cut at `deadline`
        (a `time.monotonic()` value)."""
        self.cut_happened = False
        timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self.cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()


def _shut(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return
    # Mid-handshake the socket object is out of reach; its descriptor is not.
    fd = getattr(connection, "_deadline_fd", -1)
    if fd >= 0:
        with contextlib.suppress(OSError):
            duplicate = socket.socket(fileno=os.dup(fd))
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            finally:
                duplicate.close()


def mount(session: requests.Session, cutter: SocketCutter) -> None:
    """Make `session` open its connections so that `cutter` can cut them."""
    import requests.adapters
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class TrackedHTTP(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            self._deadline_fd = sock.fileno()
            cutter.track(self)
            return sock

    class TrackedHTTPS(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            self._deadline_fd = sock.fileno()
            cutter.track(self)
            return sock

    class HTTPPool(HTTPConnectionPool):
        ConnectionCls = TrackedHTTP

    class HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = TrackedHTTPS

    adapter = requests.adapters.HTTPAdapter()
    adapter.poolmanager.pool_classes_by_scheme = {"http": HTTPPool, "https": HTTPSPool}
    session.mount("https://", adapter)
    session.mount("http://", adapter)
