"""`replay FILE`: evaluate a recorded run again from its transcript alone; write its
document, or compare it with the recorded result (`--check`)."""

from __future__ import annotations

from engine.cli.shared import EXIT_OK, EXIT_PIPELINE, Console, load_policy
from engine.core.jobs import count_jobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.run.arguments import Arguments
    from engine.sandbox.parent import Sandbox
    from engine.transcripts.replay import Replayed


def run(args: Arguments, console: Console, sandbox: Sandbox) -> int:
    """Evaluate a transcript again; write its document, or compare it (`--check`)."""
    import io

    from engine.core.diagnostics import PipelineFailed
    from engine.transcripts import transcript
    from engine.transcripts.replay import drift, replay

    out, err = console.out, console.err
    path = args.positionals[0]
    data = transcript.load(path)
    check = args.flag("--check")
    target = args.value("--triggers-file")
    if target is not None:
        transcript.check_writable(target, "the triggers file")
    if not check:
        from engine.common.shown import escape_controls

        for warning in data.get("warnings") or []:
            err.write(escape_controls(f"{data['run']['pipeline']}: warning: {warning}")
                      + "\n")
    # With --check the pipeline's output is not shown: the verdict is the output.
    replayed = replay(data, path, io.StringIO() if check else err, sandbox, load_policy(args))
    console.sources.update(replayed.sources)
    if target is not None and replayed.document is not None:
        from engine.triggers.file import write_atomic

        write_atomic(target, replayed.document)
    if check:
        difference = drift(data, replayed)
        if difference:
            out.write(f"{path}: the replay differs from the recorded run\n{difference}")
            return EXIT_PIPELINE
        out.write(f"{path}: the replay matches the recorded run ({_summary(replayed)})\n")
        return EXIT_OK
    if replayed.errors:
        raise PipelineFailed(replayed.errors)
    if replayed.document is None:
        err.write("the pipeline triggered no jobs; nothing was written\n")
    elif target is None:
        out.write(replayed.document.decode("utf-8"))
    else:
        err.write(f"wrote {len(replayed.document)} bytes ({count_jobs(replayed.jobs, 'new')}) to "
                  f"{target}\n")
    return EXIT_OK


def _summary(replayed: Replayed) -> str:
    if replayed.errors:
        count = len(replayed.errors)
        return f"the same {'error' if count == 1 else f'{count} errors'}"
    if replayed.document is None:
        return "no jobs"
    return f"the same {len(replayed.document)} bytes, {count_jobs(replayed.jobs, 'new')}"
