"""The coordinator API token: taken out of the environment first, and never shown.

`Secret.redact` is the one place that scrubs it from text. It is applied to what the engine
itself writes from sources that held or could echo the token (coordinator answers, git,
the engine's own errors), never to text the pipeline produced: the pipeline never holds
the token, and redacting its output would tell it which of its guesses was right.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOKEN_VAR = "REACTORCIDE_API_TOKEN"
REDACTED = "[redacted]"


class Secret:
    """A value that must never be shown: its repr and str hide it.

    The raw text leaves this class in three places only, each named for what needs it:
    `authorization()` (the HTTP header that carries the token to the coordinator, the
    one place it is sent anywhere), `redact()` (which must know every spelling of the
    token to remove it from text) and `memory_halves()` (the sandbox child's erase of
    the copies its forked memory holds); `header_problem()` inspects it without showing
    any of it. Everything else passes the Secret along.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    @classmethod
    def of(cls, token: Secret | str) -> Secret:
        """`token` wrapped, unless it already is (the Python API may pass a str)."""
        return token if isinstance(token, Secret) else cls(token)

    def __str__(self) -> str:
        return REDACTED

    __repr__ = __str__

    @property
    def value(self) -> str:
        """The raw text, for a test to compare. The engine never reads it: it unwraps the
        token only through the methods below (tests/redaction holds it to that)."""
        return self._value

    def header_problem(self) -> str | None:
        """Why the value cannot travel in an HTTP header as it is (said without showing
        any of it), or None when it can: it must be printable ASCII without blanks."""
        value = self._value
        if not isinstance(value, str) or not value:
            return "is empty"
        if any(not 0x21 <= ord(c) <= 0x7E for c in value):
            return "contains whitespace, control or non-ASCII characters"
        return None

    def authorization(self) -> str:
        """The value of the `Authorization` header that presents the token."""
        # Unwrapped here, and only here, to be sent: over HTTPS unless the operator
        # allowed plain http (engine.capabilities.coordinator.urls).
        return f"Bearer {self._value}"

    def redact(self, text: str, *, cut: bool = False) -> str:
        """`text` with every spelling of the token replaced by `[redacted]`.

        `cut=True` is for an excerpt that may end inside the token: a trailing piece of
        one (four characters or more) goes too.
        """
        forms = self._forms()
        for form in forms:
            text = text.replace(form, REDACTED)
        if cut:
            for form in forms:
                for length in range(len(form) - 1, 3, -1):
                    if text.endswith(form[:length]):
                        return text[:-length] + REDACTED
        return text

    def redact_deep(self, value: Any) -> Any:
        """Decoded JSON with the token removed from every string, keys included."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_deep(item) for item in value]
        if isinstance(value, dict):
            return {self.redact_deep(k): self.redact_deep(v) for k, v in value.items()}
        return value

    def memory_halves(self) -> tuple[bytes, bytes]:
        """The value's UTF-8 bytes as two halves, for a search of memory that must hold
        no whole copy itself (see engine.sandbox.fence.erase_from_memory)."""
        value = self._value
        return value[: len(value) // 2].encode(), value[len(value) // 2:].encode()

    def _forms(self) -> list[str]:
        """Every spelling of the value in text (raw, URL-encoded, form-encoded), longest
        first, so that a longer spelling is replaced before a shorter one inside it."""
        from urllib.parse import quote, quote_plus

        value = self._value
        if not value:
            return []
        forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
        return sorted(forms, key=len, reverse=True)


def redact(text: str, secret: Secret | None, *, cut: bool = False) -> str:
    """`text` without the token when there is one (see `Secret.redact`)."""
    return text if secret is None else secret.redact(text, cut=cut)


def take_token(environ: dict[str, str] | os._Environ[str]) -> Secret | None:
    """Remove the API token from the environment and return it wrapped.

    Done before anything else, so that neither git nor the sandbox inherits it. For the
    process's own environment, the copy the process started with (what
    `/proc/PID/environ` shows) is overwritten too.
    """
    value = environ.pop(TOKEN_VAR, None)
    if environ is os.environ:
        erase_initial_entry(TOKEN_VAR)
    return Secret(value) if value else None


def initial_environment_span() -> tuple[int, int] | None:
    """Where, in this process's memory, the environment block it started with lies
    (what `/proc/PID/environ` shows); None when that cannot be read."""
    try:
        with open("/proc/self/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[-3]), int(fields[-2])
    except (OSError, ValueError, IndexError):
        return None
    return (start, end) if 0 < start < end else None


def erase_initial_entry(name: str) -> bool:
    """Overwrite `NAME=value` in the environment block this process started with.

    Removing a variable from `os.environ` leaves that block (read by anyone who may
    read `/proc/PID/environ`) as it was. Only the one entry is zeroed: the C library
    no longer points at it once the variable is unset, and the other entries stay
    valid. False when the block could not be rewritten.
    """
    span = initial_environment_span()
    if span is None:
        return False
    try:
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            return zero_entries(fd, span, name)
        finally:
            os.close(fd)
    except (OSError, ValueError):  # ValueError: a name that is not text (a lone surrogate)
        return False


def zero_entries(fd: int, span: tuple[int, int], name: str) -> bool:
    """Zero every `name=value` entry of the NUL-separated environment block at `span`
    (start, end) of the file `fd` (this process's memory, or a file laid out alike);
    whether there was one."""
    start, end = span
    block = os.pread(fd, end - start, start)
    key = name.encode() + b"="
    found = False
    at = block.find(key)
    while at >= 0:
        if at == 0 or block[at - 1] == 0:  # an entry's start, not inside another one
            stop = block.find(b"\0", at)
            stop = len(block) if stop < 0 else stop
            os.pwrite(fd, bytes(stop - at), start + at)
            found = True
        at = block.find(key, at + len(key))
    return found
