"""Messages across the pipe: a long list is written item by item, and the bytes the other
side reads are exactly those of the message encoded at once."""

from __future__ import annotations

import os
import threading
from typing import Any

import pytest

from engine.sandbox import protocol

JOBS = [{"workflow": None, "fields": {"job_name": f"j{i}", "env": {"K": "é\u2028\"\\"}},
         "site": i % 3} for i in range(2_000)]


@pytest.mark.parametrize("message", [
    {"type": "result", "jobs": JOBS, "sites": [{"location": {"file": "p.star"}}],
     "protections": ["a"]},
    {"type": "result", "jobs": JOBS[:10]},
    {"type": "call", "args": list(range(1_000)), "more": list(range(300))},
    {"type": "result", "jobs": []},
], ids=["large result", "small result", "two long lists", "no jobs"])
def test_a_message_arrives_as_sent(message: dict[str, Any]) -> None:
    assert b"".join(protocol._pieces(message)) == protocol.encode(message)[protocol.HEADER:]
    read_fd, write_fd = os.pipe()
    received: list[dict[str, Any] | None] = []
    reader = threading.Thread(target=lambda: received.append(protocol.receive(read_fd)))
    reader.start()
    try:
        protocol.send(write_fd, message)
        os.close(write_fd)
        reader.join(timeout=60)
        assert received == [message]
        assert protocol.receive(read_fd) is None  # nothing more than the one frame
    finally:
        os.close(read_fd)
