"""What a transcript needs, collected while a run goes on (written by
engine.transcripts.transcript.build)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.sandbox.broker import HostServices


class Recorder:
    """Collects what a transcript needs while a run goes on (see engine.run.ingest.run)."""

    __slots__ = ("context", "output", "previous", "services", "token_in_inputs", "warnings")

    def __init__(self) -> None:
        self.services: HostServices | None = None
        self.context: dict[str, Any] = {}
        self.output: list[str] = []
        self.warnings: list[str] = []
        self.previous: bytes | None = None
        # Set by `build` when the token's text was found in what a replay needs
        # (sources, previous file, result): redacted there, it cannot replay exactly.
        self.token_in_inputs = False

    def read_previous(self, raw: bytes | None) -> None:
        """The triggers file as the writer read it (None: there was none)."""
        self.previous = raw
