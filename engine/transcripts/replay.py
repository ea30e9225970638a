"""Replay: evaluate a pipeline again from a transcript alone, and compare.

No git, no network and no source checkout: the pipeline files, the environment, the
policy and every answer come from the transcript, and a question the recorded run did
not ask has no answer (an error at the caller's line, so the drift shows). The document
is composed in memory over the recorded previous triggers file.
"""

from __future__ import annotations

from engine.common.record import Record
from engine.core.diagnostics import PipelineFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from engine.core.diagnostics import Diagnostic
    from engine.policy import Policy
    from engine.sandbox.parent import Sandbox


class Replayed(Record):
    """What a replay decided: the document (None: no jobs) or the failure's diagnostics."""

    __slots__ = ("document", "errors", "jobs", "sources")

    def __init__(self, document: bytes | None, errors: list[Diagnostic], jobs: int,
                 sources: dict[str, str]) -> None:
        self.document = document
        self.errors = errors
        self.jobs = jobs
        self.sources = sources


def replay(data: dict[str, Any], where: str, stderr: TextIO | None = None,
           sandbox: Sandbox | None = None, operator: Policy | None = None) -> Replayed:
    """Re-evaluate a checked transcript (`engine.transcripts.transcript.check`).

    The recorded policy applies only where it is stricter than `operator` (the policy
    the operator gives this command; default: the built-in one).
    """
    from engine.policy import default_policy, policy_from_json, tighten
    from engine.run import ingest, inputs
    from engine.sandbox.broker import Unrecorded
    from engine.transcripts import transcript
    from engine.triggers.file import parse_existing

    run = data["run"]
    environment = {k: v for k, v in data["environment"].items()
                   if isinstance(v, str) and k != "REACTORCIDE_API_TOKEN"}
    pipeline = run["pipeline"]
    recorded_inputs = inputs.assemble(
        src_dir=run["src_dir"], pipeline_path=pipeline, pipeline_text=data["sources"][pipeline],
        triggers_file=run["triggers_file"], reading=environment, token=None,
    )
    policy = tighten(operator or default_policy(), policy_from_json(data["policy"], where))
    options = ingest.RunOptions(dry_run=True, policy=policy)
    backends = ingest.Backends(Unrecorded("git"), Unrecorded("job_state"), Unrecorded("source"),
                               transcript.recorded_answers(data, where))
    previous = data["previous_triggers"]
    existing = None
    if previous is not None:
        existing = parse_existing(previous.encode("utf-8"), run["triggers_file"])
    sources = dict(data["sources"])
    try:
        evaluation = ingest.evaluate(recorded_inputs, options, stderr, sandbox, backends)
        composition = ingest.compose_in_memory(recorded_inputs, evaluation, options, existing)
    except PipelineFailed as failure:
        return Replayed(None, failure.diagnostics, 0, {**sources, **failure.sources})
    return Replayed(composition.document, [], len(evaluation.jobs), sources)


def outcome_text(document: bytes | str | None, errors: list[Diagnostic]) -> str:
    """A run's result as text to compare and diff: the document, or its errors."""
    if errors:
        return "".join(f"{d.location}: {d.severity}: {d.message}\n" for d in errors)
    if document is None:
        return "(no triggers document: the pipeline triggered no jobs)\n"
    return document.decode("utf-8") if isinstance(document, bytes) else document


def drift(data: dict[str, Any], replayed: Replayed) -> str:
    """A unified diff from the recorded result to the replayed one; empty when equal."""
    import difflib

    from engine import __version__
    from engine.transcripts.transcript import recorded_errors

    recorded = outcome_text(data["result"].get("triggers"), recorded_errors(data))
    again = outcome_text(replayed.document, replayed.errors)
    if recorded == again:
        return ""
    lines = difflib.unified_diff(
        recorded.splitlines(keepends=True), again.splitlines(keepends=True),
        f"recorded (engine {data.get('engine_version')})", f"replayed (engine {__version__})",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
