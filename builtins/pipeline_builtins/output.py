"""`print` and `log_next_job`: text for the person reading the ingest log."""

from __future__ import annotations

from engine.capabilities.base import Protocol
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class Output(Protocol):
    """Where a pipeline's text goes (the parent's stderr, in order)."""

    def write(self, text: str) -> None:
        """Show one line of pipeline output."""
        ...


def output_builtins(out: Output) -> dict[str, Callable[..., Any]]:
    """Build `print` and `log_next_job` over an output sink."""

    def print_(parts: list[str], sep: object) -> None:
        if not isinstance(sep, str):
            raise BuiltinError(f"print: sep must be a string, not {type(sep).__name__}")
        out.write(sep.join(parts))

    def log_next_job(job_name: str, reason: str = "") -> None:
        """Writes `📋 Next job to run: NAME (reason: REASON)` as a line on the engine's stderr.

        Only a log line, for the person reading the ingest log: it triggers nothing.
        """
        if not isinstance(job_name, str):
            raise BuiltinError("log_next_job: job_name must be a string")
        suffix = f" (reason: {reason})" if reason else ""
        out.write(f"\N{CLIPBOARD} Next job to run: {job_name}{suffix}")

    return {"_print": print_, "log_next_job": log_next_job}
