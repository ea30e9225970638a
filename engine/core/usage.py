"""What a run used against each limit, reported on every run (not only when exceeded)."""

from __future__ import annotations

from engine.common.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.limits import Limits


class Usage(Record):
    """What one evaluation used, for reporting against the limits."""

    __slots__ = ("cpu_seconds", "peak_memory_mb", "wall_seconds")

    def __init__(self, wall_seconds: float = 0.0, cpu_seconds: float = 0.0,
                 peak_memory_mb: float = 0.0) -> None:
        self.wall_seconds = wall_seconds
        self.cpu_seconds = cpu_seconds
        self.peak_memory_mb = peak_memory_mb


class RunUsage(Record):
    """Measured use of one run beside its limits; unknown parts are None."""

    __slots__ = ("jobs", "limits", "measured", "output_bytes", "protections")

    def __init__(self, measured: Usage, limits: Limits, jobs: int | None = None,
                 output_bytes: int | None = None, protections: tuple[str, ...] = ()) -> None:
        self.measured = measured
        self.limits = limits
        self.jobs = jobs
        self.output_bytes = output_bytes
        self.protections = protections  # the sandbox's OS fences that took effect

    def __str__(self) -> str:
        m, lim = self.measured, self.limits
        # Each part is named as the policy key that sets its limit, in that key's unit.
        parts = [
            f"wall_seconds {m.wall_seconds:.3f} of {lim.wall_seconds:g}",
            f"cpu_seconds {m.cpu_seconds:.3f} of {lim.cpu_seconds:g}",
            f"memory_mb {m.peak_memory_mb:.0f} of {lim.memory_mb}",
        ]
        if self.jobs is not None:
            parts.append(f"max_jobs {self.jobs} of {lim.max_jobs}")
        if self.output_bytes is not None:
            parts.append(f"max_output_bytes {self.output_bytes} of {lim.max_output_bytes}")
        return "used: " + ", ".join(parts)

    def to_json(self) -> dict[str, object]:
        """Each measure with its limit, and the sandbox protections that were active."""
        m, lim = self.measured, self.limits
        return {
            "wall_seconds": {"used": round(m.wall_seconds, 4), "limit": lim.wall_seconds},
            "cpu_seconds": {"used": round(m.cpu_seconds, 4), "limit": lim.cpu_seconds},
            "memory_mb": {"used": round(m.peak_memory_mb, 1), "limit": lim.memory_mb},
            "max_jobs": {"used": self.jobs, "limit": lim.max_jobs},
            "max_output_bytes": {"used": self.output_bytes, "limit": lim.max_output_bytes},
            "protections": list(self.protections),
        }
