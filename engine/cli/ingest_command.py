"""The default command (`ingest`) and `plan`: evaluate the pipeline, then write the
triggers file, submit it, save the transcript and hand on the workflow state, or show
the plan and write nothing. `plan --diff` is handed to `engine.plan.diff`."""

from __future__ import annotations

import os

from engine.cli.shared import EXIT_OK, EXIT_PIPELINE, Console, load_policy
from engine.core.jobs import count_jobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from engine.common.secret import Secret
    from engine.core.diagnostics import PipelineFailed
    from engine.policy import Policy
    from engine.run.arguments import Arguments
    from engine.run.ingest import Outcome, RunOptions
    from engine.run.inputs import Inputs
    from engine.run.recorder import Recorder
    from engine.run.trusted_source import Sources
    from engine.sandbox.parent import Sandbox


def run(args: Arguments, token: Secret | None, console: Console, sandbox: Sandbox) -> int:
    """Evaluate the pipeline; write (and submit) the triggers file, or show the plan."""
    from engine.run.event import apply_flags
    from engine.run.ingest import RunOptions

    if args.command == "plan" and (
            args.value("--diff") is not None or args.value("--format") == "markdown"
            or args.value("--events") is not None or args.flag("--exit-code")):
        from engine.plan.diff import run_diff

        return run_diff(args, token, console.out, console.err, sandbox)
    env = apply_flags(os.environ, {
        "--event": args.value("--event"), "--branch": args.value("--branch"),
        "--tag": args.value("--tag"), "--pr": args.value("--pr"),
        "--base": args.value("--base"), "--head-ref": args.value("--head-ref"),
        "--fork": args.flag("--fork"), "--var": args.values("--var"),
    })
    dry_run = args.command == "plan" or args.flag("--dry-run")
    policy = load_policy(args)
    allow_insecure = args.flag("--allow-insecure-transport")
    submit = _submits(args, env, token, dry_run)
    if submit:  # refused before anything is cloned, evaluated or sent
        _check_submit(env, token, allow_insecure, dry_run)
    inputs, trusted = _inputs(args, env, token, policy, console.err)
    console.sources[inputs.pipeline_name] = inputs.pipeline_text
    pr = inputs.context.get("pr")
    if pr and pr.get("is_fork"):
        policy = policy.for_fork()  # [fork_pr] tightens what a fork's run may do
    if trusted is not None and pr:
        _say_pipeline_changes(inputs, trusted.from_ci, console.err)
    options = RunOptions(
        dry_run=dry_run,
        allow_insecure_transport=allow_insecure,
        policy=policy,
        changed=args.values("--changed") or None,
    )
    outcome = _evaluate(inputs, options, args.value("--record"), console.err, sandbox)
    _warn(args, inputs, options, outcome, env, trusted, console)
    return _write(args, inputs, options, outcome, submit, console.out, console.err)


def _inputs(args: Arguments, env: dict[str, str], token: Secret | None, policy: Policy,
            err: TextIO) -> tuple[Inputs, Sources | None]:
    """The inputs snapshot, and in an eval job without --src or --pipeline the trusted
    source it evaluates."""
    from engine.run.inputs import snapshot
    from engine.run.trusted_source import in_eval_job

    src, pipeline = args.value("--src"), args.value("--pipeline")
    trusted = None
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
    return inputs, trusted


def _evaluate(inputs: Inputs, options: RunOptions, record: str | None, err: TextIO,
              sandbox: Sandbox) -> Outcome:
    """Run the pipeline; with `--record`, save the transcript whether it fails or not."""
    from engine.core.diagnostics import PipelineFailed
    from engine.run.ingest import run as run_pipeline

    if record is None:
        return run_pipeline(inputs, options, err, sandbox, None)
    from engine.run.recorder import Recorder
    from engine.transcripts.transcript import check_writable

    check_writable(record)
    recorder = Recorder()
    try:
        outcome = run_pipeline(inputs, options, err, sandbox, recorder)
    except PipelineFailed as failure:
        _save_transcript(record, recorder, inputs, options, None, failure, err)
        raise
    _save_transcript(record, recorder, inputs, options, outcome.document, None, err)
    return outcome


def _warn(args: Arguments, inputs: Inputs, options: RunOptions, outcome: Outcome,
          env: dict[str, str], trusted: Sources | None, console: Console) -> None:
    """The warnings about the jobs, and (not for a plan) what the run used and what a
    pull request changes."""
    from engine.run.ingest import warnings_for

    sources = {**console.sources, **outcome.sources}
    console.report(warnings_for(outcome.jobs), sources)
    if args.command == "plan":  # a plan shows its use only in --format json
        from engine.triggers.document import plan_warnings

        console.report(plan_warnings(outcome.jobs), sources)
        return
    console.err.write(f"{outcome.usage}\n")
    from engine.run.event import diff_base

    if (trusted is None or not trusted.from_ci) and diff_base(env) is not None:
        # Evaluating the trusted CI source, the base's pipeline is the one that ran.
        from engine.plan.diff import show_in_pull_request

        show_in_pull_request(inputs, options, outcome.jobs, outcome.sources, env, console.err)


def _write(args: Arguments, inputs: Inputs, options: RunOptions, outcome: Outcome,
           submit: bool, out: TextIO, err: TextIO) -> int:
    """Show the plan, or write the triggers file, submit it and write the workflow state."""
    path = inputs.triggers_file
    fmt = args.value("--format") if args.command == "plan" else None
    if fmt is not None and fmt != "text":
        from engine.plan.formats import PlanView, render

        out.write(render(fmt, PlanView(outcome.jobs, outcome.operation_id, path,
                                       outcome.usage)))
        return EXIT_OK
    if not outcome.jobs:
        nothing_sent = "; nothing was submitted" if submit else ""
        out.write(f"the pipeline triggered no jobs; {path} was not written{nothing_sent}\n")
        if not options.dry_run:
            _write_state(inputs, outcome.state, out)
        return EXIT_OK
    if options.dry_run:
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

    if workflow_state.is_empty(state):
        return
    from engine.triggers import state_file

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
            token,
            env.get("REACTORCIDE_JOB_ID") or None,
            allow_insecure_transport=allow_insecure,
        )
    except SubmitError as error:
        raise UsageError(str(error), PROG) from None


def _submit(inputs: Inputs, options: RunOptions, out: TextIO, err: TextIO) -> int:
    """POST the written triggers file; on failure keep it for the worker (exit 1)."""
    from engine.capabilities.coordinator.http import budget_for
    from engine.common.secret import redact
    from engine.triggers.submit import SubmitError, shown_ids, submit_file

    path = inputs.triggers_file
    try:
        created = submit_file(
            inputs.coordinator_url or "",
            inputs.token or "",
            inputs.context.get("job_id") or "",
            path,
            allow_insecure_transport=options.allow_insecure_transport,
            budget_seconds=budget_for(options.limits.wall_seconds),
        )
    except SubmitError as error:
        err.write(redact(f"{path}: error: {error}", inputs.token) + "\n")
        err.write(f"{path} is kept; no job was created from it\n")
        return EXIT_PIPELINE
    if created:
        out.write(f"submitted {path}: the coordinator created {count_jobs(len(created))}: "
                  f"{shown_ids(created)}\n")
    else:
        out.write(f"submitted {path}: the coordinator created no new jobs (this "
                  "operation_id had been submitted before)\n")
    return EXIT_OK
