"""When to stop a running evaluation: the wall clock, the CPU time and the memory,
watched from the binding's `check_cancelled` callback so that a program over a limit
stops at its running line, before the kernel's hard limits would kill the child."""

from __future__ import annotations

import time

from engine.core.limits import Limits

# The share of the memory left at which a growing program is stopped at its line.
_MEMORY_SHARE = 0.9


class Watch:
    """The `check_cancelled` of one evaluation; `cancelled` names the limit that stopped
    it (`wall`, `cpu` or `memory`), None while none has."""

    def __init__(self, limits: Limits, deadline: float) -> None:
        self.deadline = deadline
        self.cancelled: str | None = None
        self._asked = 0
        # Which limit a program hits must not depend on how loaded the machine is. The
        # evaluation is single-threaded, so it cannot use more CPU than wall-clock time:
        # when the CPU budget is at least the wall clock's (the default), only the wall
        # clock is watched here and it is always the limit reported. A smaller CPU budget
        # is the operator's explicit choice and is watched too. The margin covers a
        # garbage collection of a large heap, during which nobody asks.
        self._watch_cpu = limits.cpu_seconds < limits.wall_seconds
        self._cpu_deadline = limits.cpu_seconds - min(0.5, limits.cpu_seconds / 4)
        # Memory grows with the steps taken, not with time: watched here too, it stops a
        # growing program at its line, just before the kernel's hard limit would.
        self._statm = _open_statm()
        # The kernel's limit is what the child inherited plus `memory_mb` (see
        # engine.sandbox.child.harden); the watch stops a program at 90 % of what is left.
        start = _address_space(self._statm) if self._statm is not None else 0
        hard = _address_space_limit(start + limits.memory_mb * 1024 * 1024)
        self._memory_ceiling = start + (hard - start) * _MEMORY_SHARE

    def check(self) -> bool:
        """Whether to stop now (the binding asks every thousand or so steps)."""
        if time.monotonic() > self.deadline:
            self.cancelled = "wall"
            return True
        # The clock costs well under 1 % of the steps between two questions.
        if self._watch_cpu and time.process_time() > self._cpu_deadline:
            self.cancelled = "cpu"
            return True
        self._asked += 1
        if self._statm is not None and self._asked % 8 == 0 and (
                _address_space(self._statm) > self._memory_ceiling):
            self.cancelled = "memory"
            return True
        return False


def _address_space_limit(default: int) -> int:
    """The address-space limit in force (`default` where none is set)."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return default if soft == resource.RLIM_INFINITY else soft


def _open_statm() -> int | None:
    import os

    try:
        return os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:  # not Linux, or no descriptor left: the kernel's limit still holds
        return None


def _address_space(fd: int) -> int:
    import os

    try:
        pages = int(os.pread(fd, 64, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")
