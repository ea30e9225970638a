"""`plan --diff` shown in each `--format`: text for a terminal, JSON for machines,
markdown for a pull-request comment."""

from __future__ import annotations

import json

from engine.core.jobs import Job, count_jobs
from engine.plan.changes import UNSET, PlanDiff

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


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
