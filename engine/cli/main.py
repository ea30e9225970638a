"""Command line: `python -m engine [ingest|plan|check|replay|test|policy] ...`.

Parses the arguments, hands them to the command's module, and turns whatever goes wrong
into a message and an exit code, here and only here: no traceback reaches the user and
the token is never shown. Exit codes: 0 success; 1 the pipeline failed (syntax, runtime
error, fail(), validation, a limit); 2 usage or environment error; 3 an internal error
of the engine.
"""

from __future__ import annotations

import os
import sys

from engine.cli.shared import EXIT_INTERNAL, EXIT_OK, EXIT_PIPELINE, EXIT_USAGE, Console

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    from engine.common.secret import Secret
    from engine.core.diagnostics import EngineFailure
    from engine.run.arguments import Arguments
    from engine.sandbox.parent import Sandbox

__all__ = ["EXIT_INTERNAL", "EXIT_OK", "EXIT_PIPELINE", "EXIT_USAGE", "main"]


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user."""
    import gc

    # A run is short and makes no lasting cycles; the cyclic collector, which would scan
    # a large result's objects again and again, is paused for it (and for the sandbox,
    # forked below).
    collecting = gc.isenabled()
    gc.disable()
    # The job model is loaded before the fork: both processes need it, so it loads once.
    import engine.core.jobs  # noqa: F401
    from engine.common.secret import take_token

    token = take_token(os.environ)
    # Forked before anything else, so that the interpreter loads in the child while
    # this process parses arguments and reads its inputs.
    from engine.sandbox.parent import Sandbox

    sandbox = Sandbox(token)
    from engine.run import stopping

    stopping.install()
    try:
        console = Console(stdout or sys.stdout, stderr or sys.stderr)
        return _run_guarded(argv, console, token, sandbox, collecting)
    finally:
        sandbox.discard()
        stopping.uninstall()
        if collecting:
            gc.enable()


def _run_guarded(argv: Sequence[str] | None, console: Console, token: Secret | None,
                 sandbox: Sandbox, collecting: bool) -> int:
    """Parse and run the command; every way it can end becomes an exit code."""
    from engine.cli.paint import Paint, wanted
    from engine.core.diagnostics import EngineFailure
    from engine.run import arguments, stopping

    if argv is None:
        arguments.PROG = arguments.program_name(sys.argv[0])
    console.paint = Paint(wanted(None, console.err, os.environ))
    args: Arguments | None = None
    try:
        args = arguments.parse(list(sys.argv[1:] if argv is None else argv))
        console.paint = Paint(wanted(args.value("--color"), console.err, os.environ))
        return _dispatch(args, console, token, sandbox, collecting)
    except arguments.HelpRequested as help_:
        console.out.write(str(help_))
        return EXIT_OK
    except EngineFailure as failure:
        return _failed(failure, args, console, token)
    except (stopping.Stopped, KeyboardInterrupt) as stop:
        return stopping.report(stop, console.err)
    except Exception as unexpected:  # an engine bug, not the user's doing
        from engine.common.secret import redact
        from engine.common.shown import escape_controls

        text = f"internal error: {type(unexpected).__name__}: {unexpected}"
        console.err.write(escape_controls(redact(text[:2000], token))
                          + "\nnothing was written\n")
        return EXIT_INTERNAL


def _dispatch(args: Arguments, console: Console, token: Secret | None, sandbox: Sandbox,
              collecting: bool) -> int:
    """Hand the parsed arguments to their command's module; its exit code."""
    if args.command == "check":
        from engine.cli import check_command

        return check_command.run(args, console, sandbox)
    if args.command == "policy":
        from engine.cli import policy_command

        return policy_command.run(args, console)
    if args.command == "replay":
        from engine.cli import replay_command

        return replay_command.run(args, console, sandbox)
    if args.command == "test":
        import gc

        from engine.pipeline_tests.runner import run_all

        if collecting:
            gc.enable()  # many cases in one process: collect between them
        return run_all(args.positionals, args.values("--policy"), args.flag("--update"),
                       console.out, sandbox, pattern=args.value("-k"), verbose=args.flag("-v"),
                       junit=args.value("--junit"))
    from engine.cli import ingest_command

    return ingest_command.run(args, token, console, sandbox)


def _failed(failure: EngineFailure, args: Arguments | None, console: Console,
            token: Secret | None) -> int:
    """Show why the command failed (`plan --format json` also as JSON); its exit code."""
    command = args.command if args is not None else "ingest"
    console.report(failure.diagnostics, {**console.sources, **failure.sources})
    if failure.usage is not None and command != "plan":
        console.err.write(f"{failure.usage}\n")
    if args is not None and command == "plan" and args.value("--format") == "json":
        from engine.common.secret import redact
        from engine.core.usage import RunUsage
        from engine.plan.stages import render_failure_json

        errors = [d.to_json() for d in failure.diagnostics]
        usage = failure.usage if isinstance(failure.usage, RunUsage) else None
        console.out.write(redact(render_failure_json(errors, usage), token))
    if failure.exit_code == EXIT_PIPELINE and command != "check":
        console.err.write("nothing was written\n")
    return failure.exit_code
