"""Which coordinator addresses are accepted, and where a redirect may lead.

The API token travels only over HTTPS unless the operator passed
``--allow-insecure-transport``; a redirect is followed only when it stays on the same
scheme, host and port.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from engine.capabilities.base import CapabilityError

INSECURE_OPTION = "--allow-insecure-transport"

Origin = tuple[str, str, int]


def validate_base_url(base_url: str, allow_insecure: bool) -> tuple[str, str]:
    """Return ``(normalised base URL, "host:port")`` or raise CapabilityError."""
    if not isinstance(base_url, str) or not base_url.strip():
        raise CapabilityError("the coordinator URL is empty")
    if any(c.isspace() or ord(c) < 0x20 for c in base_url):
        raise CapabilityError("the coordinator URL contains whitespace or control characters")
    try:
        parts = urlsplit(base_url)
        port = parts.port
    except ValueError as exc:
        raise CapabilityError(f"the coordinator URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not allow_insecure:
            raise CapabilityError(
                "the coordinator URL uses plain http, which is refused: the API token would "
                f"travel unencrypted; use https, or accept the risk explicitly: "
                f"{INSECURE_OPTION} on the command line, "
                "WorkflowContext(allow_insecure_transport=True) in a Python script"
            )
    elif scheme != "https":
        shown = parts.scheme or "(none)"
        raise CapabilityError(
            f"the coordinator URL must start with https:// (scheme {shown!r} is not supported)"
        )
    if not parts.hostname:
        raise CapabilityError("the coordinator URL is malformed: it names no host")
    if parts.username is not None or parts.password is not None:
        raise CapabilityError("the coordinator URL must not contain credentials")
    if parts.query or parts.fragment:
        raise CapabilityError("the coordinator URL must not contain a query or fragment")
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    host_port = f"{shown_host}:{port if port is not None else (443 if scheme == 'https' else 80)}"
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}", host_port


def origin_of(url: str) -> Origin | None:
    """``(scheme, host, port)`` of a URL, None when it has no usable origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80)


def redirect_refusal(status: int, target: str, method: str, origin: Origin | None,
                     action: str) -> str | None:
    """Why a redirect (`status`) to `target` is not followed, or None when it may be."""
    if origin_of(target) != origin:
        return (
            f"redirected ({status}) to {_shown_origin(target)} while {action}; "
            "redirects that leave https or change host are refused: configure the "
            "final coordinator address instead"
        )
    if method != "GET" and status not in (307, 308):
        return (f"redirected ({status}) while {action}; a {status} would turn the {method} "
                "into a GET, so it is refused")
    return None


def _shown_origin(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "a malformed location"
    origin = f"{parts.scheme or '?'}://{parts.hostname or '?'}"
    return f"{origin}:{port}" if port is not None else origin
