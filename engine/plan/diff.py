"""`plan --diff REF`: what a change to the pipeline changes in CI.

The pipeline is evaluated twice for the same inputs: as it is at REF (its files, loads
included, read from git) and as it is now; the two plans are compared job by job and
field by field. With `--events` the comparison is made once per event.
"""

from __future__ import annotations

import io
import json
import os

from engine.capabilities.base import CapabilityError
from engine.capabilities.source_tree import MAX_SOURCE_BYTES, MAX_SOURCE_MIB, SourceTree
from engine.common.record import Record
from engine.core.diagnostics import PipelineFailed, UsageError
from engine.core.jobs import KEY_ORDER, Job, count_jobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from engine.capabilities.git.live import LiveGit
    from engine.common.secret import Secret
    from engine.run.arguments import Arguments
    from engine.run.ingest import RunOptions
    from engine.run.inputs import Inputs
    from engine.sandbox.parent import Sandbox

UNSET = object()


class FieldChange(Record):
    """One field of a job, before and after (`UNSET` when the job had no such field)."""

    __slots__ = ("after", "before", "field")

    def __init__(self, field: str, before: Any, after: Any) -> None:
        self.field = field
        self.before = before
        self.after = after


class JobChange(Record):
    """A job in both plans whose fields differ."""

    __slots__ = ("changes", "name")

    def __init__(self, name: str, changes: list[FieldChange]) -> None:
        self.name = name
        self.changes = changes


class PlanDiff(Record):
    """The jobs one event's plan gains, loses and changes."""

    __slots__ = ("added", "after_count", "before_count", "changed", "event", "note", "removed")

    def __init__(self, event: str | None, added: list[Job], removed: list[Job],
                 changed: list[JobChange], before_count: int, after_count: int,
                 note: str = "") -> None:
        self.event = event
        self.added = added
        self.removed = removed
        self.changed = changed
        self.before_count = before_count
        self.after_count = after_count
        self.note = note

    @property
    def differs(self) -> bool:
        """Whether the two plans differ at all."""
        return bool(self.added or self.removed or self.changed)


# -- comparing ---------------------------------------------------------------------------


def compare(before: list[Job], after: list[Job], event: str | None = None,
            note: str = "") -> PlanDiff:
    """Jobs added, removed and changed (in the order of the plan they appear in)."""
    old = {job.name: job for job in before}
    new = {job.name: job for job in after}
    added = [job for job in after if job.name not in old]
    removed = [job for job in before if job.name not in new]
    changed = []
    for job in after:
        if job.name in old:
            changes = field_changes(old[job.name].to_document(), job.to_document())
            if changes:
                changed.append(JobChange(job.name, changes))
    return PlanDiff(event, added, removed, changed, len(before), len(after), note)


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    """Field-by-field differences of two job documents; maps (env, resources, ...) are
    compared key by key (`env.SUITE`)."""
    out: list[FieldChange] = []
    for key in KEY_ORDER:
        old, new = before.get(key, UNSET), after.get(key, UNSET)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            for sub in sorted(set(old) | set(new)):
                if old.get(sub, UNSET) != new.get(sub, UNSET):
                    out.append(FieldChange(f"{key}.{sub}", old.get(sub, UNSET),
                                           new.get(sub, UNSET)))
            continue
        out.append(FieldChange(key, old, new))
    return out


# -- reading the pipeline at a commit ---------------------------------------------------


class SourcesAtRef(SourceTree):
    """The files `load()` may read, as they are in commit `rev`: the same confinement
    as the working tree's, with every text read from git."""

    def __init__(self, git: LiveGit, rev: str, root: str, pipeline_path: str,
                 pipeline_name: str, *, enabled: bool = True, max_files: int = 100) -> None:
        super().__init__(root, pipeline_path, pipeline_name, enabled=enabled,
                         max_files=max_files)
        self.git = git
        self.rev = rev

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        """Resolve and confine one load, and read it from `rev`."""
        relative = self.resolve(module, loading_file)
        name = self.display_name(relative)
        if name in self.texts:
            return {"name": name, "text": self.texts[name]}
        if len(self.texts) >= self.max_files:
            raise CapabilityError(
                f"load limit of {self.max_files} files exceeded (load.max_files)")
        raw = self.git.file_at(self.rev, relative)
        if raw is None:
            raise CapabilityError(f"cannot load {module!r}: {name} does not exist at "
                                  f"{self.rev}")
        self.texts[name] = _decoded(raw, f"cannot load {module!r}: {name}")
        self._relative[name] = relative
        return {"name": name, "text": self.texts[name]}


def _decoded(raw: bytes, what: str) -> str:
    if len(raw) > MAX_SOURCE_BYTES:
        raise CapabilityError(f"{what} is larger than {MAX_SOURCE_MIB} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CapabilityError(f"{what} is not UTF-8") from None


def pipeline_at(git: LiveGit, rev: str, src_dir: str, pipeline_path: str) -> str | None:
    """The pipeline's text in commit `rev`; None when it had no such file."""
    root = os.path.realpath(src_dir)
    real = os.path.realpath(pipeline_path)
    if not real.startswith(root + os.sep):
        raise UsageError("plan --diff reads the pipeline from git: it must be inside the "
                         "source directory", pipeline_path)
    relative = os.path.relpath(real, root).replace(os.sep, "/")
    try:
        raw = git.file_at(rev, relative)
        return None if raw is None else _decoded(raw, pipeline_path)
    except CapabilityError as err:
        raise UsageError(f"plan --diff: {err}", rev) from None


# -- running -----------------------------------------------------------------------------


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
    from engine.policy.layering import load_policy, policy_files

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
                                enabled=bool(options.policy.get("load", "enabled")),
                                max_files=int(options.policy.get("load", "max_files")))
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


# -- showing -----------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is UNSET:
        return "(unset)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _summary(diff: PlanDiff) -> str:
    if not diff.differs:
        return f"no change ({diff.after_count} job{'s' if diff.after_count != 1 else ''})"
    parts = [f"{len(diff.added)} added", f"{len(diff.removed)} removed",
             f"{len(diff.changed)} changed"]
    return ", ".join(parts) + f" ({count_jobs(diff.before_count)} before, " \
                              f"{diff.after_count} after)"


def _added_detail(job: Job) -> list[tuple[str, str]]:
    doc = job.to_document()
    rows = [(key, _value(doc[key])) for key in doc if key not in ("job_name", "env")
            and not (key == "depends_on" and not doc[key])
            and not (key == "condition" and doc[key] == "all_success")]
    if doc.get("env"):
        rows.append(("env", ", ".join(sorted(doc["env"]))))
    return rows


def render_text(diffs: list[PlanDiff], rev: str) -> str:
    """The differences for a person at a terminal."""
    lines = [f"plan at {rev} -> plan now"]
    for diff in diffs:
        head = f"{diff.event}: " if diff.event else ""
        lines.append(head + _summary(diff) + (f"; {diff.note}" if diff.note else ""))
        for job in diff.added:
            lines.append(f"  + {job.name}  ({job.location})")
            lines.extend(f"      {key}: {value}" for key, value in _added_detail(job))
        for job in diff.removed:
            lines.append(f"  - {job.name}")
        for change in diff.changed:
            lines.append(f"  ~ {change.name}")
            lines.extend(f"      {c.field}: {_value(c.before)} -> {_value(c.after)}"
                         for c in change.changes)
    return "\n".join(lines) + "\n"


def render_json(diffs: list[PlanDiff], rev: str) -> str:
    """The differences for machines."""
    def field(value: Any) -> Any:
        return None if value is UNSET else value

    doc = {
        "base": rev,
        "differ": any(d.differs for d in diffs),
        "events": [
            {
                "event": d.event,
                "note": d.note or None,
                "jobs_before": d.before_count,
                "jobs_after": d.after_count,
                "added": [{"job": j.to_document(), "location": j.location.to_json()}
                          for j in d.added],
                "removed": [{"job": j.to_document()} for j in d.removed],
                "changed": [
                    {"job_name": c.name,
                     "fields": [{"field": f.field, "before": field(f.before),
                                 "after": field(f.after), "before_set": f.before is not UNSET,
                                 "after_set": f.after is not UNSET} for f in c.changes]}
                    for c in d.changed
                ],
            }
            for d in diffs
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _code(text: str) -> str:
    """A markdown code span holding `text` (inside a table cell)."""
    text = text.replace("|", "\\|").replace("\n", " ")
    fence = "`" * (max((len(run) for run in text.split("`") if not run), default=0) + 1)
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render_markdown(diffs: list[PlanDiff], rev: str) -> str:
    """The differences for a pull-request comment."""
    lines = [f"#### Pipeline plan: `{rev}` → this change", ""]
    for diff in diffs:
        title = f"**{diff.event}**: " if diff.event else ""
        lines.append(title + _summary(diff) + (f"; {diff.note}" if diff.note else ""))
        lines.append("")
        if not diff.differs:
            continue
        lines += ["| | job | field | before | after |", "|---|---|---|---|---|"]
        for job in diff.added:
            details = _added_detail(job) or [("", "")]
            for index, (key, value) in enumerate(details):
                mark, name = ("added", _code(job.name)) if index == 0 else ("", "")
                lines.append(f"| {mark} | {name} | {_code(key) if key else ''} | | "
                             f"{_code(value) if value else ''} |")
        for job in diff.removed:
            lines.append(f"| removed | {_code(job.name)} | | | |")
        for change in diff.changed:
            for index, c in enumerate(change.changes):
                mark, name = ("changed", _code(change.name)) if index == 0 else ("", "")
                lines.append(f"| {mark} | {name} | {_code(c.field)} | {_code(_value(c.before))}"
                             f" | {_code(_value(c.after))} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# -- in an eval job for a pull request ---------------------------------------------------


def show_in_pull_request(inputs: Inputs, options: RunOptions, jobs: list[Job],
                         sources: dict[str, str], env: Mapping[str, str],
                         err: TextIO) -> None:
    """In an ingest for a pull request (`REACTORCIDE_EVENT_TYPE=pull_request_*` with
    `REACTORCIDE_DIFF_BASE`) whose pipeline files differ from the base's, print the
    plan at the base against the plan just made, for the log. The base's plan is only
    evaluated, never written or submitted; a failure here is a note, never the run's."""
    event = env.get("REACTORCIDE_EVENT_TYPE") or ""
    base = env.get("REACTORCIDE_DIFF_BASE") or ""
    if not event.startswith("pull_request_") or not base:
        return
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
                                enabled=bool(options.policy.get("load", "enabled")),
                                max_files=int(options.policy.get("load", "max_files")))
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
