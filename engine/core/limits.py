"""Resource limits of one evaluation, with the built-in defaults."""

from __future__ import annotations

from engine.common.record import Record


class Limits(Record):
    """What one evaluation may use. Every limit hit ends the run with exit 1."""

    __slots__ = (
        "cpu_seconds",
        "kill_grace_seconds",
        "max_callstack",
        "max_jobs",
        "max_output_bytes",
        "max_print_bytes",
        "memory_mb",
        "wall_seconds",
    )

    def __init__(
        self,
        *,
        wall_seconds: float = 10.0,
        cpu_seconds: int = 10,
        memory_mb: int = 1024,
        max_callstack: int = 200,
        max_jobs: int = 1000,
        max_output_bytes: int = 8 * 1024 * 1024,
        max_print_bytes: int = 1024 * 1024,
        kill_grace_seconds: float = 0.5,
    ) -> None:
        self.wall_seconds = wall_seconds
        self.cpu_seconds = cpu_seconds
        self.memory_mb = memory_mb
        self.max_callstack = max_callstack
        self.max_jobs = max_jobs
        self.max_output_bytes = max_output_bytes
        self.max_print_bytes = max_print_bytes
        # How long a single long operation may overrun the wall clock before the
        # sandbox is killed (loops stop at the deadline itself).
        self.kill_grace_seconds = kill_grace_seconds

    def to_json(self) -> dict[str, float]:
        """The limits as a JSON-ready mapping."""
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_json(cls, data: dict[str, float]) -> Limits:
        """Inverse of `to_json`."""
        limits = cls()
        for name in cls.__slots__:
            if name in data:
                setattr(limits, name, data[name])
        return limits
