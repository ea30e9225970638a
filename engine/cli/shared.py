"""What the command modules share: the exit codes, the console they write to, and the
operator policy the command line names.

Light on purpose: `main` imports it before any command, so it imports nothing heavy at
module level.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from engine.cli.paint import Paint
    from engine.core.diagnostics import Diagnostic
    from engine.policy import Policy
    from engine.run.arguments import Arguments

EXIT_OK, EXIT_PIPELINE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class Console:
    """Where a command writes: its output, its messages (diagnostics coloured when
    `paint` says so), and the pipeline sources the diagnostics quote."""

    __slots__ = ("err", "out", "paint", "sources")

    def __init__(self, out: TextIO, err: TextIO, paint: Paint | None = None) -> None:
        self.out = out
        self.err = err
        self.paint = paint
        self.sources: dict[str, str] = {}

    def report(self, diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
        """Write each diagnostic to the error stream, quoting `sources`."""
        # Not redacted: a diagnostic's words come from the pipeline (which never held the
        # token, so redacting them would confirm a guess) or were scrubbed where the engine
        # produced them.
        from engine.common.shown import escape_controls

        for diagnostic in diagnostics:
            text = escape_controls(diagnostic.render(sources))
            shown = self.paint.diagnostic(diagnostic, text) if self.paint else text
            self.err.write(shown + "\n")
        self.err.flush()


def load_policy(args: Arguments) -> Policy:
    """The operator policy: the files $REACTORCIDE_PIPELINE_POLICY names, then those of
    `--policy`, layered strictly."""
    import os

    from engine.policy import load_policy as layered
    from engine.policy import policy_files

    return layered(policy_files(args.values("--policy"), os.environ))
