"""What a transcript must not carry: the API token, in any spelling, and the credentials
in any URL, scrubbed from every text and every string of JSON data it holds."""

from __future__ import annotations

import re

from engine.common.secret import redact

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.common.secret import Secret

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


class Scrubber:
    """Removes secrets from text: the token (also URL-encoded) and URL credentials."""

    def __init__(self, token: Secret | None) -> None:
        self._token = token

    def secret(self, text: str) -> str:
        """`text` without the token."""
        return redact(text, self._token)

    def text(self, text: str) -> str:
        """`text` without the token and without credentials in any URL it contains."""
        from engine.capabilities.git.urls import strip_credentials

        return _URL.sub(lambda m: strip_credentials(m.group()), self.secret(text))

    def deep(self, value: Any, urls: bool = True) -> Any:
        """`value` (JSON data) with every string scrubbed, keys included."""
        clean = self.text if urls else self.secret
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [self.deep(v, urls) for v in value]
        if isinstance(value, dict):
            return {clean(str(k)): self.deep(v, urls) for k, v in value.items()}
        return value
