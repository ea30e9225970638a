"""Command line: `python -m engine [ingest|check|plan] ...`.

Exit codes: 0 success; 1 the pipeline failed (syntax, runtime error, fail(), validation,
a limit); 2 usage or environment error; 3 an internal error of the engine.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    from engine.arguments import Arguments
    from engine.diagnostics import Diagnostic
    from engine.sandbox.parent import Sandbox
    from engine.secret import Secret

EXIT_OK, EXIT_PIPELINE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user."""
    from engine.secret import take_token

    token = take_token(os.environ)
    # Forked before anything else, so that the interpreter loads in the child while
    # this process parses arguments and reads its inputs.
    from engine.sandbox.parent import Sandbox

    sandbox = Sandbox()
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    redact = token.value if token else None
    sources: dict[str, str] = {}
    from engine import arguments
    from engine.diagnostics import EngineFailure

    command = "ingest"
    try:
        args = arguments.parse(list(sys.argv[1:] if argv is None else argv))
        command = args.command
        if command == "check":
            return _check(args.positionals, out, err, sources, sandbox)
        return _run(args, token, out, err, sources, sandbox)
    except arguments.HelpRequested as help_:
        out.write(str(help_))
        return EXIT_OK
    except EngineFailure as failure:
        _report(failure.diagnostics, err, sources, redact)
        if failure.exit_code == EXIT_PIPELINE and command != "check":
            err.write("nothing was written\n")
        return failure.exit_code
    except KeyboardInterrupt:
        err.write("interrupted; nothing was written\n")
        return EXIT_INTERNAL
    except Exception as unexpected:  # an engine bug, not the user's doing
        text = f"internal error: {type(unexpected).__name__}: {unexpected}"
        err.write(_redact(text, redact) + "\nnothing was written\n")
        return EXIT_INTERNAL
    finally:
        sandbox.discard()


def _redact(text: str, secret: str | None) -> str:
    return text.replace(secret, "[redacted]") if secret else text


def _report(diagnostics: list[Diagnostic], err: TextIO, sources: dict[str, str],
            secret: str | None) -> None:
    for diagnostic in diagnostics:
        err.write(_redact(diagnostic.render(sources), secret) + "\n")
    err.flush()


def _run(args: Arguments, token: Secret | None, out: TextIO, err: TextIO,
         sources: dict[str, str], sandbox: Sandbox) -> int:
    from engine.ingest import RunOptions, run, warnings_for
    from engine.inputs import snapshot

    inputs = snapshot(
        src=args.value("--src"),
        pipeline=args.value("--pipeline"),
        triggers_file=args.value("--triggers-file"),
        env=os.environ,
        token=token,
    )
    sources[inputs.pipeline_name] = inputs.pipeline_text
    dry_run = args.command == "plan" or args.flag("--dry-run")
    options = RunOptions(
        dry_run=dry_run, allow_insecure_transport=args.flag("--allow-insecure-transport")
    )
    outcome = run(inputs, options, err, sandbox)
    secret = inputs.token.value if inputs.token else None
    _report(warnings_for(outcome.jobs), err, sources, secret)
    path = inputs.triggers_file
    if args.command == "plan" and args.value("--format") == "json":
        from engine.plan import render_json

        out.write(render_json(outcome.jobs, outcome.operation_id, path))
        return EXIT_OK
    if not outcome.jobs:
        out.write(f"the pipeline triggered no jobs; {path} was not written\n")
        return EXIT_OK
    if dry_run:
        from engine.plan import render_text

        out.write(render_text(outcome.jobs, "dry run: nothing written"))
        return EXIT_OK
    if outcome.existing_count:
        out.write(
            f"appended {len(outcome.jobs)} jobs to {path} (now "
            f"{outcome.existing_count + len(outcome.jobs)} jobs, operation_id "
            f"{outcome.operation_id})\n"
        )
    else:
        out.write(
            f"wrote {len(outcome.jobs)} jobs to {path} (operation_id {outcome.operation_id})\n"
        )
    return EXIT_OK


def _check(files: list[str], out: TextIO, err: TextIO, sources: dict[str, str],
           sandbox: Sandbox) -> int:
    from engine.diagnostics import Diagnostic, PipelineFailed, UsageError
    from engine.limits import Limits

    payload = []
    for name in files:
        try:
            with open(name, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise UsageError("file not found", name) from None
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read: {error}", name) from None
        sources[name] = text
        payload.append({"name": name, "text": text})
    request = {"mode": "check", "sources": payload}
    report = sandbox.run(request, Limits(), _NoServices(), files[0])
    diagnostics = [Diagnostic.from_json(d) for d in report.message.get("diagnostics", [])]
    _report(diagnostics, err, sources, None)
    errors = sum(1 for d in diagnostics if d.severity == "error")
    if errors:
        raise PipelineFailed([])
    noun = "file" if len(files) == 1 else "files"
    warnings = len(diagnostics) - errors
    out.write(f"checked {len(files)} {noun}: no errors"
              + (f", {warnings} warning{'s' if warnings != 1 else ''}\n" if warnings else "\n"))
    return EXIT_OK


class _NoServices:
    """`check` runs nothing, so the sandbox may ask for nothing."""

    def answer(self, capability: str, method: str, args: list[object]) -> object:
        from engine.capabilities.base import CapabilityError

        raise CapabilityError("check does not run the pipeline")

    def show(self, text: str) -> None:
        return None
