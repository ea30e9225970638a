"""Command line: `python -m engine [ingest|plan|check|replay|test|policy] ...`.

Exit codes: 0 success; 1 the pipeline failed (syntax, runtime error, fail(), validation,
a limit); 2 usage or environment error; 3 an internal error of the engine.
"""

from __future__ import annotations

import os
import sys

from engine.core.jobs import count_jobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TextIO

    from engine.cli.paint import Paint
    from engine.common.secret import Secret
    from engine.core.diagnostics import Diagnostic, PipelineFailed
    from engine.policy.layering import Policy
    from engine.run.arguments import Arguments
    from engine.run.ingest import RunOptions
    from engine.run.inputs import Inputs
    from engine.run.recorder import Recorder
    from engine.sandbox.parent import Sandbox
    from engine.transcripts.replay import Replayed

EXIT_OK, EXIT_PIPELINE, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    """Run one command; return its exit code. Never lets a traceback reach the user."""
    import gc

    # A run is short and makes no lasting cycles; the cyclic collector, which would scan
    # a large result's objects again and again, is paused for it (and for the sandbox,
    # forked below).
    collecting = gc.isenabled()
    gc.disable()
    from engine.common.secret import take_token

    token = take_token(os.environ)
    # Forked before anything else, so that the interpreter loads in the child while
    # this process parses arguments and reads its inputs.
    from engine.sandbox.parent import Sandbox

    sandbox = Sandbox((token.value,) if token else ())
    from engine.run import stopping

    stopping.install()
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    redact = token
    sources: dict[str, str] = {}
    from engine.cli.paint import Paint, wanted
    from engine.core.diagnostics import EngineFailure
    from engine.run import arguments

    if argv is None:
        arguments.PROG = arguments.program_name(sys.argv[0])
    global _paint
    _paint = Paint(wanted(None, err, os.environ))
    command = "ingest"
    try:
        args = arguments.parse(list(sys.argv[1:] if argv is None else argv))
        command = args.command
        _paint = Paint(wanted(args.value("--color"), err, os.environ))
        if command == "check":
            return _check(args, out, err, sources, sandbox)
        if command == "policy":
            return _policy_show(args, out)
        if command == "replay":
            return _replay(args, out, err, sources, sandbox)
        if command == "test":
            from engine.pipeline_tests.runner import run_all

            if collecting:
                gc.enable()  # many cases in one process: collect between them

            return run_all(args.positionals, args.values("--policy"), args.flag("--update"),
                           out, sandbox, pattern=args.value("-k"), verbose=args.flag("-v"),
                           junit=args.value("--junit"))
        return _run(args, token, out, err, sources, sandbox)
    except arguments.HelpRequested as help_:
        out.write(str(help_))
        return EXIT_OK
    except EngineFailure as failure:
        _report(failure.diagnostics, err, {**sources, **failure.sources}, redact)
        if failure.usage is not None and command != "plan":
            err.write(f"{failure.usage}\n")
        if command == "plan" and args.value("--format") == "json":
            from engine.core.usage import RunUsage
            from engine.plan.stages import render_failure_json

            errors = [d.to_json() for d in failure.diagnostics]
            usage = failure.usage if isinstance(failure.usage, RunUsage) else None
            out.write(_redact(render_failure_json(errors, usage), redact))
        if failure.exit_code == EXIT_PIPELINE and command != "check":
            err.write("nothing was written\n")
        return failure.exit_code
    except (stopping.Stopped, KeyboardInterrupt) as stop:
        return stopping.report(stop, err)
    except Exception as unexpected:  # an engine bug, not the user's doing
        from engine.common.shown import escape_controls

        text = f"internal error: {type(unexpected).__name__}: {unexpected}"
        err.write(escape_controls(_redact(text[:2000], redact)) + "\nnothing was written\n")
        return EXIT_INTERNAL
    finally:
        sandbox.discard()
        stopping.uninstall()
        if collecting:
            gc.enable()


def _redact(text: str, secret: Secret | None) -> str:
    from engine.common.secret import redact

    return redact(text, secret)


_paint: Paint | None = None


def _report(diagnostics: list[Diagnostic], err: TextIO, sources: dict[str, str],
            secret: Secret | None) -> None:
    # Not redacted: a diagnostic's words come from the pipeline (which never held the
    # token, so redacting them would confirm a guess) or were scrubbed where the engine
    # produced them.
    from engine.common.shown import escape_controls

    del secret
    for diagnostic in diagnostics:
        text = escape_controls(diagnostic.render(sources))
        err.write((_paint.diagnostic(diagnostic, text) if _paint else text) + "\n")
    err.flush()


def _run(args: Arguments, token: Secret | None, out: TextIO, err: TextIO,
         sources: dict[str, str], sandbox: Sandbox) -> int:
    from engine.core.diagnostics import PipelineFailed
    from engine.run.event import apply_flags
    from engine.run.ingest import RunOptions, run, warnings_for
    from engine.run.inputs import snapshot

    if args.command == "plan" and (
            args.value("--diff") is not None or args.value("--format") == "markdown"
            or args.value("--events") is not None or args.flag("--exit-code")):
        from engine.plan.diff import run_diff

        return run_diff(args, token, out, err, sandbox)
    env = apply_flags(os.environ, {
        "--event": args.value("--event"), "--branch": args.value("--branch"),
        "--tag": args.value("--tag"), "--pr": args.value("--pr"),
        "--base": args.value("--base"), "--head-ref": args.value("--head-ref"),
        "--fork": args.flag("--fork"), "--var": args.values("--var"),
    })
    dry_run = args.command == "plan" or args.flag("--dry-run")
    policy = _policy(args)
    allow_insecure = args.flag("--allow-insecure-transport")
    submit = _submits(args, env, token, dry_run)
    if submit:  # refused before anything is cloned, evaluated or sent
        _check_submit(env, token, allow_insecure, dry_run)
    src, pipeline = args.value("--src"), args.value("--pipeline")
    trusted = None
    from engine.run.trusted_source import in_eval_job

    if src is None and pipeline is None and in_eval_job(env):
        from engine.run.event import EnvReading, read_event
        from engine.run.trusted_source import resolve

        trusted = resolve(env, read_event(EnvReading(env)), policy, err)
        src, pipeline = trusted.src_dir, trusted.pipeline
    inputs = snapshot(
        src=src,
        pipeline=pipeline,
        triggers_file=args.value("--triggers-file"),
        env=env,
        token=token,
    )
    if trusted is not None:
        inputs.code_dir = trusted.code_dir
    sources[inputs.pipeline_name] = inputs.pipeline_text
    pr = inputs.context.get("pr")
    if pr and pr.get("is_fork"):
        policy = policy.for_fork()  # [fork_pr] tightens what a fork's run may do
    if trusted is not None and pr:
        _say_pipeline_changes(inputs, trusted.from_ci, err)
    options = RunOptions(
        dry_run=dry_run,
        allow_insecure_transport=allow_insecure,
        policy=policy,
        changed=args.values("--changed") or None,
    )
    record = args.value("--record")
    recorder = None
    if record is not None:
        from engine.run.recorder import Recorder
        from engine.transcripts.transcript import check_writable

        check_writable(record)
        recorder = Recorder()
    try:
        outcome = run(inputs, options, err, sandbox, recorder)
    except PipelineFailed as failure:
        if record is not None and recorder is not None:
            _save_transcript(record, recorder, inputs, options, None, failure, err)
        raise
    if record is not None and recorder is not None:
        _save_transcript(record, recorder, inputs, options, outcome.document, None, err)
    _report(warnings_for(outcome.jobs), err, {**sources, **outcome.sources}, inputs.token)
    if args.command == "plan":
        from engine.triggers.document import plan_warnings

        _report(plan_warnings(outcome.jobs), err, {**sources, **outcome.sources},
                inputs.token)
    if args.command != "plan":  # a plan shows its use only in --format json
        err.write(f"{outcome.usage}\n")
        if trusted is None or not trusted.from_ci:
            # Evaluating the trusted CI source, the base's pipeline is the one that ran.
            from engine.plan.diff import show_in_pull_request

            show_in_pull_request(inputs, options, outcome.jobs, outcome.sources, env, err)
    path = inputs.triggers_file
    fmt = args.value("--format") if args.command == "plan" else None
    if fmt == "json":
        from engine.plan.stages import render_json

        out.write(render_json(outcome.jobs, outcome.operation_id, path, outcome.usage))
        return EXIT_OK
    if fmt in ("mermaid", "dot"):
        from engine.plan.pictures import render_dot, render_mermaid

        out.write((render_mermaid if fmt == "mermaid" else render_dot)(outcome.jobs))
        return EXIT_OK
    if not outcome.jobs:
        nothing_sent = "; nothing was submitted" if submit else ""
        out.write(f"the pipeline triggered no jobs; {path} was not written{nothing_sent}\n")
        if not dry_run:
            _write_state(inputs, outcome.state, out)
        return EXIT_OK
    if dry_run:
        from engine.plan.stages import render_text

        out.write(render_text(outcome.jobs, "dry run: nothing written"))
        return EXIT_OK
    if outcome.existing_count:
        out.write(
            f"appended {count_jobs(len(outcome.jobs))} to {path} (now "
            f"{count_jobs(outcome.existing_count + len(outcome.jobs))}, operation_id "
            f"{outcome.operation_id})\n"
        )
    else:
        out.write(
            f"wrote {count_jobs(len(outcome.jobs))} to {path} "
            f"(operation_id {outcome.operation_id})\n"
        )
    if submit:
        code = _submit(inputs, options, out, err)
        if code != EXIT_OK:
            return code
    _write_state(inputs, outcome.state, out)
    return EXIT_OK


def _write_state(inputs: Inputs, state: dict[str, dict[str, object]], out: TextIO) -> None:
    """Hand the workflow variables and outputs the run set to the worker (only after the
    run succeeded); nothing is touched when none were set."""
    from engine.core import workflow_state
    from engine.triggers import state_file

    if workflow_state.is_empty(state):
        return
    path = (inputs.environment.get("RC_WF_OUTPUT_FILE")
            or workflow_state.DEFAULT_OUTPUT_FILE)
    state_file.write(path, state)
    counts = ", ".join(f"{len(state[s])} {s}" for s in workflow_state.SECTIONS if state[s])
    out.write(f"wrote the workflow state ({counts}) to {path}\n")


def _save_transcript(path: str, recorder: Recorder, inputs: Inputs, options: RunOptions,
                     document: bytes | None, failure: PipelineFailed | None,
                     err: TextIO) -> None:
    from engine.transcripts.transcript import build, save

    save(path, build(recorder, inputs, options, document=document, failure=failure))
    if recorder.token_in_inputs:
        err.write(
            f"{path}: warning: the API token's text occurs in the pipeline's sources or "
            "its triggers; it is replaced by [redacted] in the transcript, which therefore "
            "will not replay exactly (a long random token avoids this)\n")


def _replay(args: Arguments, out: TextIO, err: TextIO, sources: dict[str, str],
            sandbox: Sandbox) -> int:
    """Evaluate a transcript again; write its document, or compare it (`--check`)."""
    import io

    from engine.core.diagnostics import PipelineFailed
    from engine.transcripts import transcript
    from engine.transcripts.replay import drift, replay

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
    replayed = replay(data, path, io.StringIO() if check else err, sandbox, _policy(args))
    sources.update(replayed.sources)
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


def _say_pipeline_changes(inputs: Inputs, from_ci: bool, err: TextIO) -> None:
    """Tell the log when a pull request changes pipeline files that did not decide."""
    from engine.capabilities.base import CapabilityError
    from engine.capabilities.git.live import LiveGit, scrub_git_environment
    from engine.run.trusted_source import pipeline_change_note, pipeline_changes

    scrub_git_environment(inputs.code_dir)
    try:
        changed = LiveGit(inputs.code_dir).changed_files(
            str(inputs.context.get("change_base") or "HEAD^"), None, None)
    except CapabilityError:
        return
    touched = pipeline_changes(changed)
    if touched:
        number = (inputs.context.get("pr") or {}).get("number")
        err.write(pipeline_change_note(number, touched, from_ci=from_ci) + "\n")


def _submits(args: Arguments, env: dict[str, str], token: Secret | None,
             dry_run: bool) -> bool:
    """Whether this run POSTs its triggers: asked for with --submit, else by default in a
    job that can (the coordinator's address, the token and the job id are all set)."""
    from engine.triggers.submit import submits_by_default

    if args.flag("--no-submit"):
        if args.flag("--submit"):
            from engine.core.diagnostics import UsageError
            from engine.run.arguments import PROG

            raise UsageError("ingest: --submit and --no-submit contradict each other", PROG)
        return False
    if args.flag("--submit"):
        return True
    return not dry_run and submits_by_default(
        env.get("REACTORCIDE_COORDINATOR_URL"), token, env.get("REACTORCIDE_JOB_ID"))


def _check_submit(env: dict[str, str], token: Secret | None, allow_insecure: bool,
                  dry_run: bool) -> None:
    """Refuse a submission before anything runs when it cannot work (exit 2, nothing
    written, no request made)."""
    from engine.core.diagnostics import UsageError
    from engine.run.arguments import PROG
    from engine.triggers.submit import SubmitError, check_target

    if dry_run:
        raise UsageError("ingest: --submit cannot be combined with --dry-run", PROG)
    try:
        check_target(
            env.get("REACTORCIDE_COORDINATOR_URL") or None,
            token.value if token else None,
            env.get("REACTORCIDE_JOB_ID") or None,
            allow_insecure_transport=allow_insecure,
        )
    except SubmitError as error:
        raise UsageError(str(error), PROG) from None


def _submit(inputs: Inputs, options: RunOptions, out: TextIO, err: TextIO) -> int:
    """POST the written triggers file; on failure keep it for the worker (exit 1)."""
    from engine.capabilities.coordinator.http import budget_for
    from engine.triggers.submit import SubmitError, shown_ids, submit_file

    path = inputs.triggers_file
    secret = inputs.token.value if inputs.token else ""
    try:
        created = submit_file(
            inputs.coordinator_url or "",
            secret,
            inputs.context.get("job_id") or "",
            path,
            allow_insecure_transport=options.allow_insecure_transport,
            budget_seconds=budget_for(options.limits.wall_seconds),
        )
    except SubmitError as error:
        err.write(_redact(f"{path}: error: {error}", inputs.token) + "\n")
        err.write(f"{path} is kept; no job was created from it\n")
        return EXIT_PIPELINE
    if created:
        out.write(f"submitted {path}: the coordinator created {count_jobs(len(created))}: "
                  f"{shown_ids(created)}\n")
    else:
        out.write(f"submitted {path}: the coordinator created no new jobs (this "
                  "operation_id had been submitted before)\n")
    return EXIT_OK


def _policy(args: Arguments) -> Policy:
    from engine.policy.layering import load_policy, policy_files

    return load_policy(policy_files(args.values("--policy"), os.environ))


def _policy_show(args: Arguments, out: TextIO) -> int:
    from engine.policy.layering import render_toml

    out.write(render_toml(_policy(args)))
    return EXIT_OK


def _check(args: Arguments, out: TextIO, err: TextIO, sources: dict[str, str],
           sandbox: Sandbox) -> int:
    from engine.check.report import discover, report, suppressed
    from engine.core.diagnostics import Diagnostic
    from engine.run.pipeline_files import collect, render_capabilities, tree_for

    files = discover(args.positionals)
    policy = _policy(args)
    problems: list[Diagnostic] = []
    reports: list[str] = []
    groups: list[list[str]] = []
    for name in files:
        from engine.run.inputs import read_pipeline

        # Read as ingest reads a pipeline: a regular file, capped, and (inside the
        # source) not a link leading out of it.
        text = read_pipeline(name, args.value("--src") or os.path.dirname(name) or ".")
        texts, names, refused = collect(name, text, tree_for(name, args.value("--src"), policy))
        for loaded, loaded_text in texts.items():
            sources.setdefault(loaded, loaded_text)
        groups.append(list(texts))
        problems.extend(refused)
        reports.append(render_capabilities(name, texts, names, refused, policy))
    if args.flag("--capabilities"):
        out.write("".join(reports))
        return EXIT_OK
    payload = [{"name": name, "text": text} for name, text in sources.items()]
    result = sandbox.run({"mode": "check", "sources": payload, "groups": groups,
                          "rules": policy.job_rules.to_json()},
                         policy.limits, _NoServices(), files[0])
    order = {name: index for index, name in enumerate(sources)}
    found = problems + [Diagnostic.from_json(d) for d in result.message.get("diagnostics", [])]
    # A file reached from several of the files checked is reported once.
    unique = list({(str(d.location), d.message): d for d in found}.values())
    diagnostics = sorted(
        (d for d in unique if not suppressed(d, sources)),
        key=lambda d: (order.get(d.location.file, len(order)), d.location.line, d.location.col),
    )
    errors, warnings = report(diagnostics, sources, len(sources),
                              args.value("--format") or "text", out, err, _paint)
    return EXIT_PIPELINE if errors or (warnings and args.flag("--strict")) else EXIT_OK


class _NoServices:
    """`check` runs nothing, so the sandbox may ask for nothing."""

    def answer(self, capability: str, method: str, args: list[object]) -> object:
        from engine.capabilities.base import CapabilityError

        raise CapabilityError("check does not run the pipeline")

    def show(self, text: str) -> None:
        return None
