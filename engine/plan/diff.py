"""`plan --diff REF`: what a change to the pipeline changes in CI.

The pipeline is evaluated twice for the same inputs: as it is at REF (its files, loads
included, read from git) and as it is now; the two plans are compared job by job and
field by field. With `--events` the comparison is made once per event.
"""

from __future__ import annotations

import io
import os

from engine.capabilities.base import CapabilityError
from engine.core.diagnostics import PipelineFailed, UsageError
from engine.core.jobs import Job
from engine.plan.at_commit import SourcesAtRef, pipeline_at
from engine.plan.changes import PlanDiff, compare
from engine.plan.diff_formats import render_json, render_markdown, render_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import TextIO

    from engine.capabilities.source_tree import SourceTree
    from engine.common.secret import Secret
    from engine.run.arguments import Arguments
    from engine.run.ingest import RunOptions
    from engine.run.inputs import Inputs
    from engine.sandbox.parent import Sandbox


def run_diff(args: Arguments, token: Secret | None, out: TextIO, err: TextIO,
             sandbox: Sandbox | None) -> int:
    """`plan --diff REF [--events LIST] [--format text|json|markdown] [--exit-code]`."""
    from engine.capabilities.git.live import LiveGit, scrub_git_environment
    from engine.plan.scenarios import event_environment, parse_events
    from engine.run import ingest
    from engine.run.arguments import PROG
    from engine.run.inputs import snapshot

    rev = args.value("--diff")
    if rev is None:
        raise UsageError("plan: --events, --exit-code and --format markdown need "
                         "--diff REF", PROG)
    fmt = args.value("--format") or "text"
    if fmt not in ("text", "json", "markdown"):
        raise UsageError(f"plan: --diff shows text, json or markdown, not {fmt}", PROG)
    events: list[str | None] = [None]
    if args.value("--events") is not None:
        try:
            events = list(parse_events(args.value("--events") or ""))
        except ValueError as error:
            raise UsageError(f"plan: {error}", PROG) from None
    from engine.policy import load_policy, policy_files

    policy = load_policy(policy_files(args.values("--policy"), os.environ))
    options = ingest.RunOptions(dry_run=True, policy=policy,
                                allow_insecure_transport=args.flag("--allow-insecure-transport"))
    diffs: list[PlanDiff] = []
    spare = [sandbox] if sandbox is not None else []
    for event in events:
        env: Mapping[str, str] = os.environ if event is None else event_environment(
            event, os.environ)
        now = snapshot(src=args.value("--src"), pipeline=args.value("--pipeline"),
                       triggers_file=args.value("--triggers-file"), env=env, token=token)
        scrub_git_environment(now.src_dir)
        git = LiveGit(now.src_dir)
        old_text = pipeline_at(git, rev, now.src_dir, now.pipeline_path)
        note = "" if old_text is not None else f"{now.pipeline_name} does not exist at {rev}"
        before: list[Job] = []
        if old_text is not None:
            then = _inputs_at(now, old_text, env, token)
            tree = SourcesAtRef(git, rev, now.src_dir, now.pipeline_path, now.pipeline_name,
                                enabled=options.policy.load.enabled,
                                max_files=options.policy.load.max_files)
            before = _plan(then, options, tree, spare, err, f"at {rev}", event)
        after = _plan(now, options, None, spare, err, "now", event)
        diffs.append(compare(before, after, event, note))
    render = {"text": render_text, "json": render_json, "markdown": render_markdown}[fmt]
    out.write(render(diffs, rev))
    differs = any(d.differs for d in diffs)
    return 1 if differs and args.flag("--exit-code") else 0


def _inputs_at(now: Inputs, text: str, env: Mapping[str, str],
               token: Secret | None) -> Inputs:
    from engine.run.inputs import assemble

    return assemble(src_dir=now.src_dir, pipeline_path=now.pipeline_path, pipeline_text=text,
                    triggers_file=now.triggers_file, reading=env, token=token)


def _plan(inputs: Inputs, options: RunOptions, tree: SourceTree | None,
          spare: list[Sandbox], err: TextIO, side: str, event: str | None) -> list[Job]:
    """One evaluation; its prints are shown only when it fails."""
    from engine.run import ingest

    backends = ingest.live_backends(inputs, options)
    if tree is not None:
        backends.sources = tree
    output = io.StringIO()
    try:
        return ingest.evaluate(inputs, options, output, spare.pop() if spare else None,
                               backends).jobs
    except PipelineFailed:
        label = f"the pipeline {side}" + (f", event {event}" if event else "")
        err.write(f"{label} failed:\n{output.getvalue()}")
        raise


# -- in an eval job for a pull request ---------------------------------------------------


def show_in_pull_request(inputs: Inputs, options: RunOptions, jobs: list[Job],
                         sources: dict[str, str], env: Mapping[str, str],
                         err: TextIO) -> None:
    """In an ingest for a pull request (`REACTORCIDE_EVENT_TYPE=pull_request_*` with
    `REACTORCIDE_DIFF_BASE`) whose pipeline files differ from the base's, print the
    plan at the base against the plan just made, for the log. The base's plan is only
    evaluated, never written or submitted; a failure here is a note, never the run's."""
    from engine.run.event import diff_base

    base = diff_base(env)
    if base is None:
        return
    event = env.get("REACTORCIDE_EVENT_TYPE") or ""
    from engine.capabilities.git.live import LiveGit

    try:
        git = LiveGit(inputs.src_dir)
        root = os.path.realpath(inputs.src_dir)
        changed = False
        for name, text in sources.items():
            real = os.path.realpath(name)
            if not real.startswith(root + os.sep):
                continue
            relative = os.path.relpath(real, root).replace(os.sep, "/")
            raw = git.file_at(base, relative)
            if raw is None or raw != text.encode("utf-8"):
                changed = True
                break
        if not changed:
            return
        old_text = pipeline_at(git, base, inputs.src_dir, inputs.pipeline_path)
        before: list[Job] = []
        if old_text is not None:
            then = _inputs_at(inputs, old_text, env, inputs.token)
            tree = SourcesAtRef(git, base, inputs.src_dir, inputs.pipeline_path,
                                inputs.pipeline_name,
                                enabled=options.policy.load.enabled,
                                max_files=options.policy.load.max_files)
            before = _plan(then, options, tree, [], io.StringIO(), f"at {base}", event)
    except (CapabilityError, UsageError, PipelineFailed) as failure:
        why = str(failure).splitlines()[0] if str(failure) else type(failure).__name__
        err.write(f"note: the pipeline files differ from the pull request's base, but its "
                  f"plan could not be made for comparison: {why}\n")
        return
    note = "" if old_text is not None else f"{inputs.pipeline_name} does not exist at {base}"
    err.write("the pipeline files differ from the pull request's base; its plan against "
              "this one (shown only: nothing of the base's plan is written or submitted):\n")
    err.write(render_text([compare(before, jobs, event, note)], base))
