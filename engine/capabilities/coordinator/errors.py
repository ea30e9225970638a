"""How a failed coordinator request is worded, and whether trying again could help.

Every message here is completed by the transport, which names the coordinator and
removes the token from the whole text (`Transport.fail`).
"""

from __future__ import annotations

from engine.capabilities.coordinator.retry import Transient

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_JOB_TOKEN_HINT = ("a job's own token may only submit (it holds jobs:submit and nothing "
                   "else), so a default deployment refuses every read; an operator can "
                   "give the job a token that may read jobs (docs/coordinator.md, "
                   "\"Reading job state\")")


def status_message(status: int, expected: int, action: str, right: str) -> str:
    """Why an answer with an unexpected (final) status fails the request."""
    # The hint explains a refused read; a refused submission has no such excuse.
    reading = "jobs:submit" not in right
    if status == 401:
        hint = f" ({_JOB_TOKEN_HINT})" if reading else ""
        return (
            f"refused the API token (401 Unauthorized) while {action}; the token is invalid "
            f"or expired, or lacks the right to {right}{hint}"
        )
    if status == 403:
        hint = f"; {_JOB_TOKEN_HINT}" if reading else ""
        return f"the API token lacks the right to {right} (403 Forbidden) while {action}{hint}"
    return f"answered HTTP {status} (expected {expected}) while {action}"


def with_excerpt(message: str, excerpt: str) -> str:
    """`message`, followed by what the answer said when it said anything."""
    return f"{message}: {excerpt}" if excerpt else message


def budget_spent(budget: float, action: str, *, whole_request: bool = False) -> str:
    """The time budget ran out while the coordinator was still answering."""
    counted = " (connect, headers and body count)" if whole_request else ""
    return (f"did not finish answering within the {budget:g}s time budget for "
            f"coordinator requests while {action}{counted}")


def oversized(limit_bytes: int, action: str) -> str:
    """The answer is larger than the engine reads."""
    return (f"answer is larger than {limit_bytes // (1024 * 1024)} MiB while {action}; "
            "stopped reading")


def transport_failure(exc: BaseException, action: str, *, timeouts: tuple[float, float],
                      budget: float, spent: bool) -> Transient | str:
    """What a request that raised `exc` before a usable answer came means: a Transient
    worth retrying, or the message of a failure retrying cannot fix.

    `spent` says that (almost) nothing is left of the time budget: a timeout is then
    the budget's doing, not the coordinator's.
    """
    import socket
    import ssl

    import requests  # lazy: importing requests is slow
    import urllib3.exceptions

    linked = _exception_chain(exc)
    chain = [e for _depth, e in linked]
    detail = _innermost_text(linked)
    timed_out = isinstance(exc, requests.exceptions.Timeout) or any(
        isinstance(e, urllib3.exceptions.ReadTimeoutError) for e in chain
    )
    if timed_out and spent:
        # The wait had been cut down to what was left of the budget.
        return budget_spent(budget, action)
    connect_timeout, read_timeout = timeouts
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return Transient(f"timed out connecting after {connect_timeout:g}s while {action}")
    if timed_out:
        return Transient(f"did not answer within {read_timeout:g}s (read timeout) "
                         f"while {action}")
    if isinstance(exc, requests.exceptions.SSLError) or any(
        isinstance(e, ssl.SSLError) for e in chain
    ):
        return f"not reachable: TLS failure while {action}: {detail}"
    if any(isinstance(e, socket.gaierror | urllib3.exceptions.NameResolutionError)
           for e in chain):
        return f"not reachable: DNS lookup failed while {action}: {detail}"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return Transient(f"not reachable: connection refused while {action}")
    broken = (requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError
              | urllib3.exceptions.ProtocolError | ConnectionError)
    if any(isinstance(e, broken) for e in chain):
        return Transient(f"connection failed while {action}: {detail}")
    return f"request failed while {action}: {type(exc).__name__}: {detail}"


def _exception_chain(exc: BaseException) -> list[tuple[int, BaseException]]:
    """Every exception reachable through causes, contexts, ``reason`` and args, with depth."""
    seen: set[int] = set()
    found: list[tuple[int, BaseException]] = []
    pending: list[tuple[int, BaseException]] = [(0, exc)]
    while pending:
        depth, current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append((depth, current))
        linked: list[Any] = [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *current.args,
        ]
        pending.extend((depth + 1, e) for e in linked if isinstance(e, BaseException))
    return found


def _innermost_text(chain: list[tuple[int, BaseException]]) -> str:
    """The most specific message in the chain (the deepest non-empty one)."""
    import ssl

    for _depth, candidate in chain:
        if isinstance(candidate, ssl.SSLCertVerificationError):
            verify = candidate.verify_message or candidate.reason or "unknown reason"
            return f"certificate verification failed: {verify}"
    texts = [(depth, str(e)) for depth, e in chain if str(e)]
    if not texts:
        return "unknown error"
    return max(texts, key=lambda item: item[0])[1]
