"""When a coordinator request is tried again, and how long it waits first.

Connection errors, read timeouts, 429 and 5xx answers are retried with exponential
backoff and jitter (honouring ``Retry-After``) while the time budget allows. Whether
another try fits is decided by the longest wait jitter could pick, so jitter only
changes how long a retry waits, never what is answered or said.
"""

from __future__ import annotations

import math
import time

from engine.capabilities.base import CapabilityError

DEFAULT_BUDGET_SECONDS = 7.0
# An attempt with less time than this left is not started.
MIN_ATTEMPT_SECONDS = 0.05
_BACKOFF_CAP_SECONDS = 2.0
_LONGEST_RETRY_AFTER = 86400.0


def budget_for(wall_seconds: float) -> float:
    """A coordinator time budget that leaves the pipeline room within its wall clock."""
    return wall_seconds - 3.0 if wall_seconds >= 6.0 else wall_seconds / 2.0


class Transient:
    """A failure worth retrying: its message, and the wait the server asked for."""

    __slots__ = ("message", "retry_after")

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.message = message
        self.retry_after = retry_after


class RetryPolicy:
    """How many attempts, how long between them, and the time budget they share."""

    def __init__(self, *, budget_seconds: float, max_attempts: int,
                 backoff_seconds: float) -> None:
        if budget_seconds <= 0 or max_attempts < 1 or backoff_seconds < 0:
            raise CapabilityError(
                "budget_seconds must be positive, max_attempts at least 1 and "
                "backoff_seconds not negative"
            )
        self.budget = budget_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds

    def give_up_reason(self, failure: Transient, attempt: int, deadline: float) -> str | None:
        """Why no further attempt is made after `attempt` failed, or None to retry."""
        attempts = f"gave up after {attempt} attempt{'s' if attempt != 1 else ''}"
        if attempt >= self.max_attempts:
            return attempts
        remaining = deadline - time.monotonic()
        if failure.retry_after is not None and failure.retry_after > remaining:
            return (
                f"{attempts}: it asked to retry after {math.ceil(failure.retry_after)}s, "
                f"beyond the {self.budget:g}s time budget"
            )
        # The longest wait jitter could pick decides, so that jitter never changes it.
        if self._longest_delay(attempt, failure.retry_after) + MIN_ATTEMPT_SECONDS > remaining:
            return f"{attempts}: another try would not fit the {self.budget:g}s time budget"
        return None

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """The wait before the attempt after `attempt`: jittered backoff, or longer when
        the server asked for it."""
        import random

        jittered = random.uniform(self._backoff(attempt) / 2, self._backoff(attempt))
        return max(jittered, retry_after or 0.0)

    def _longest_delay(self, attempt: int, retry_after: float | None) -> float:
        return max(self._backoff(attempt), retry_after or 0.0)

    def _backoff(self, attempt: int) -> float:
        return min(_BACKOFF_CAP_SECONDS, self.backoff * 2.0 ** (attempt - 1))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP date)."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        # Anything over a day is "too long" alike; the cap keeps the number printable.
        if len(value) > 9:
            return _LONGEST_RETRY_AFTER
        return float(min(int(value), int(_LONGEST_RETRY_AFTER)))
    from datetime import UTC
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # `-0000`: UTC, with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, when.timestamp() - time.time()), _LONGEST_RETRY_AFTER)
