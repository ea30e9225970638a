"""What differs between two plans: the jobs one gains, loses and changes, field by field.

Pure data: `compare` takes two lists of jobs, however they were made (`engine.plan.diff`
evaluates the pipeline twice), and `engine.plan.diff_formats` shows the result.
"""

from __future__ import annotations

from engine.common.record import Record
from engine.core.jobs import KEY_ORDER, Job

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# A field a job does not have, told apart from one set to None.
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
