"""The coordinator API token: taken out of the environment first, and never shown.

`redact` is the one place that scrubs it from text. It is applied to what the engine
itself writes from sources that held or could echo the token (coordinator answers, git,
the engine's own errors), never to text the pipeline produced: the pipeline never holds
the token, and redacting its output would tell it which of its guesses was right.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

TOKEN_VAR = "REACTORCIDE_API_TOKEN"
REDACTED = "[redacted]"


class Secret:
    """A value that must never be shown: its repr and str hide it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return REDACTED

    __repr__ = __str__


def token_forms(secrets: Secret | str | Iterable[Secret | str] | None) -> list[str]:
    """Every form a secret can take in text (raw, URL-encoded, form-encoded), longest
    first."""
    from urllib.parse import quote, quote_plus

    if secrets is None:
        return []
    items = [secrets] if isinstance(secrets, (Secret, str)) else list(secrets)
    values = [item.value if isinstance(item, Secret) else item for item in items]
    forms = {form for value in values if value
             for form in (value, quote(value, safe=""), quote(value), quote_plus(value))}
    return sorted(forms, key=len, reverse=True)


def redact(text: str, secrets: Secret | str | Iterable[Secret | str] | None, *,
           cut: bool = False) -> str:
    """`text` with every form of every secret replaced by `[redacted]`.

    `cut=True` is for an excerpt that may end inside a secret: a trailing piece of one
    (four characters or more) goes too.
    """
    forms = token_forms(secrets)
    for form in forms:
        text = text.replace(form, REDACTED)
    if cut:
        for form in forms:
            for length in range(len(form) - 1, 3, -1):
                if text.endswith(form[:length]):
                    return text[:-length] + REDACTED
    return text


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
    start, end = span
    try:
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            block = os.pread(fd, end - start, start)
            key = name.encode() + b"="
            offset = 0
            found = False
            while True:
                at = block.find(key, offset)
                if at < 0:
                    break
                if at == 0 or block[at - 1] == 0:
                    stop = block.find(b"\0", at)
                    stop = len(block) if stop < 0 else stop
                    os.pwrite(fd, bytes(stop - at), start + at)
                    found = True
                offset = at + len(key)
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return False
    return found
