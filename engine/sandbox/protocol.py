"""Length-prefixed JSON messages between the parent and the sandboxed child."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HEADER = 4
# A frame larger than this is refused: the parent never buffers unbounded child output.
MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(Exception):
    """The other side sent something that is not a valid message."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as bytes on the wire."""
    body = _body(message)
    return len(body).to_bytes(HEADER, "big") + body


def _body(message: dict[str, Any]) -> bytes:
    import json  # imported on first use: the parent forks before it needs json

    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def write_all(fd: int, data: bytes | memoryview) -> None:
    """Write every byte to a blocking descriptor."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def send(fd: int, message: dict[str, Any]) -> None:
    """Send one message on a blocking descriptor."""
    write_pieces(fd, _pieces(message))


# A list longer than this (the jobs of a large matrix) is encoded item by item.
_LONG = 256


def _pieces(message: dict[str, Any]) -> list[bytes]:
    """The message's body as pieces whose concatenation is `_body(message)`.

    A long list is encoded one item at a time: the whole result of a large matrix then
    never exists as one text plus its bytes, nor as the encoder's many small chunks.
    """
    long = [key for key, value in message.items()
            if isinstance(value, list) and len(value) > _LONG]
    if not long:
        return [_body(message)]
    import json

    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    pieces: list[bytes] = []
    opening = b"{"
    for key, value in message.items():
        pieces.append(opening + dumps(key).encode("utf-8") + b":")
        opening = b","
        if key not in long:
            pieces.append(dumps(value).encode("utf-8"))
            continue
        separator = b"["
        for item in value:
            pieces.append(separator + dumps(item).encode("utf-8"))
            separator = b","
        pieces.append(b"]")
    pieces.append(b"}")
    return pieces


def write_pieces(fd: int, pieces: list[bytes]) -> None:
    """Write one frame made of `pieces` (the header counts them all), without first
    copying them into one buffer."""
    header = sum(len(piece) for piece in pieces).to_bytes(HEADER, "big")
    batch: list[bytes] = [header]
    size = HEADER
    for piece in [*pieces, b""]:
        if piece and len(batch) < 512:
            batch.append(piece)
            size += len(piece)
            continue
        written = os.writev(fd, batch)
        if written < size:  # interrupted: the rest of the batch, piece by piece
            for chunk in batch:
                if written < len(chunk):
                    write_all(fd, memoryview(chunk)[written:])
                written = max(0, written - len(chunk))
        batch, size = ([piece], len(piece)) if piece else ([], 0)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive(fd: int) -> dict[str, Any] | None:
    """Read one message from a blocking descriptor; None at end of stream."""
    header = _read_exact(fd, HEADER)
    if header is None:
        return None
    size = int.from_bytes(header, "big")
    if size > MAX_FRAME:
        raise ProtocolError(f"message of {size} bytes exceeds {MAX_FRAME}")
    body = _read_exact(fd, size)
    if body is None:
        raise ProtocolError("stream ended inside a message")
    return _decode(body)


def _decode(body: bytes) -> dict[str, Any]:
    import json

    try:
        message = json.loads(body)
    except ValueError as err:
        raise ProtocolError(f"malformed message: {err}") from None
    if not isinstance(message, dict):
        raise ProtocolError("message is not an object")
    return message


class FrameReader:
    """Incremental decoder for a non-blocking reader: feed bytes, take whole messages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the messages now complete."""
        self._buffer += data
        out: list[dict[str, Any]] = []
        while len(self._buffer) >= HEADER:
            size = int.from_bytes(self._buffer[:HEADER], "big")
            if size > MAX_FRAME:
                raise ProtocolError(f"message of {size} bytes exceeds {MAX_FRAME}")
            if len(self._buffer) < HEADER + size:
                break
            with memoryview(self._buffer) as view:
                body = bytes(view[HEADER : HEADER + size])  # one copy, not two
            del self._buffer[: HEADER + size]
            out.append(_decode(body))
        return out

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole message."""
        return len(self._buffer)
