"""The job graph as a person or a machine reads it: stages, dependencies, conditions."""

from __future__ import annotations

import json

from engine.core.jobs import Job

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.core.usage import RunUsage


def stages(jobs: list[Job]) -> list[list[Job]]:
    """Topological levels: a job's stage is one more than its latest dependency's.

    Dependencies on jobs outside `jobs` (already in the triggers file) do not delay.
    Assumes the graph has no cycle (validation runs first).
    """
    names = {job.name for job in jobs}
    waiting = {job.name: [d for d in job.depends_on if d in names] for job in jobs}
    dependents: dict[str, list[str]] = {job.name: [] for job in jobs}
    for name, deps in waiting.items():
        for dep in deps:
            dependents[dep].append(name)
    pending = {name: len(deps) for name, deps in waiting.items()}
    level: dict[str, int] = {}
    ready = [job.name for job in jobs if not pending[job.name]]
    while ready:
        name = ready.pop()
        level[name] = 1 + max((level[d] for d in waiting[name]), default=0)
        for child in dependents[name]:
            pending[child] -= 1
            if not pending[child]:
                ready.append(child)
    for job in jobs:  # only reached on a cycle, which validation reports
        level.setdefault(job.name, 1)
    count = max(level.values(), default=0)
    out: list[list[Job]] = [[] for _ in range(count)]
    for job in jobs:
        out[level[job.name] - 1].append(job)
    return out


def render_text(jobs: list[Job], note: str = "") -> str:
    """A readable plan, one stage after another; with named workflows, one section per
    workflow (the default one first)."""
    names = list(dict.fromkeys(job.workflow for job in jobs))
    if names == [None] or not names:
        return _render_stages(jobs, note)
    names.sort(key=lambda name: name is not None)
    noun = "job" if len(jobs) == 1 else "jobs"
    parts = [f"{len(jobs)} {noun} in {len(names)} workflows" + (f" ({note})" if note else "")
             + "\n"]
    for name in names:
        members = [job for job in jobs if job.workflow == name]
        title = "default workflow" if name is None else f"workflow {name}"
        parts.append(f"{title}: " + _render_stages(members))
    return "".join(parts)


def _render_stages(jobs: list[Job], note: str = "") -> str:
    levels = stages(jobs)
    noun = "job" if len(jobs) == 1 else "jobs"
    head = f"{len(jobs)} {noun} in {len(levels)} stage{'s' if len(levels) != 1 else ''}"
    lines = [head + (f" ({note})" if note else "")]
    width = max((len(job.name) for job in jobs), default=0)
    for number, level in enumerate(levels, start=1):
        lines.append(f"stage {number}")
        for job in level:
            detail = ""
            if job.depends_on:
                detail = f"  after {', '.join(job.depends_on)} [{job.fields['condition']}]"
            lines.append(f"  {job.name.ljust(width)}{detail}  ({job.location})")
            fields = compact_fields(job)
            if fields:
                lines.append(f"  {' ' * width}  {fields}")
    return "\n".join(lines) + "\n"


def compact_fields(job: Job) -> str:
    """What a job runs, on one line: image, command, env keys, timeout, priority, and
    the condition when it has no dependency to show it beside."""
    fields = job.fields
    parts: list[str] = []
    if fields.get("container_image"):
        parts.append(f"image {fields['container_image']}")
    if fields.get("job_command"):
        parts.append(f"command {json.dumps(fields['job_command'], ensure_ascii=False)}")
    if fields.get("env"):
        parts.append(f"env {', '.join(sorted(fields['env']))}")
    if fields.get("timeout") is not None:
        parts.append(f"timeout {fields['timeout']} s")
    if fields.get("priority") is not None:
        parts.append(f"priority {fields['priority']}")
    condition = fields.get("condition", "all_success")
    if not job.depends_on and condition != "all_success":
        parts.append(f"condition {condition}")
    return " · ".join(parts)


def render_json(jobs: list[Job], operation_id: str | None, triggers_file: str,
                usage: RunUsage | None = None) -> str:
    """The plan for machines: each job as written, with its stage and source location,
    and what the run used against each limit."""
    levels = stages(jobs)
    stage_of = {job.name: n for n, level in enumerate(levels, start=1) for job in level}
    doc: dict[str, Any] = {
        "operation_id": operation_id,
        "triggers_file": triggers_file,
        "stages": [[job.name for job in level] for level in levels],
        "jobs": [
            {
                "job": job.to_document(),
                "stage": stage_of[job.name],
                "location": job.location.to_json(),
            }
            for job in jobs
        ],
    }
    if usage is not None:
        doc["usage"] = usage.to_json()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_failure_json(errors: list[dict[str, Any]], usage: RunUsage | None) -> str:
    """A failed plan for machines: the errors (as on stderr) and what the run used."""
    doc: dict[str, Any] = {"errors": errors}
    if usage is not None:
        doc["usage"] = usage.to_json()
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
