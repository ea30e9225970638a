"""The coordinator API token: taken out of the environment first, and never shown."""

from __future__ import annotations

import os

TOKEN_VAR = "REACTORCIDE_API_TOKEN"


class Secret:
    """A value that must never be shown: its repr and str hide it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __str__(self) -> str:
        return "[redacted]"

    __repr__ = __str__


def take_token(environ: dict[str, str] | os._Environ[str]) -> Secret | None:
    """Remove the API token from the environment and return it wrapped.

    Done before anything else, so that neither git nor the sandbox inherits it.
    """
    value = environ.pop(TOKEN_VAR, None)
    return Secret(value) if value else None
