"""The formats `plan --format` writes besides the default text, in one registry: a new
format is a renderer and one entry here (and its name in `--format`'s help)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.core.jobs import Job
    from engine.core.usage import RunUsage


class PlanView:
    """What a renderer may show: the jobs and what the run knows about writing them."""

    __slots__ = ("jobs", "operation_id", "triggers_file", "usage")

    def __init__(self, jobs: list[Job], operation_id: str | None, triggers_file: str,
                 usage: RunUsage | None) -> None:
        self.jobs = jobs
        self.operation_id = operation_id
        self.triggers_file = triggers_file
        self.usage = usage


def _json(view: PlanView) -> str:
    from engine.plan.stages import render_json

    return render_json(view.jobs, view.operation_id, view.triggers_file, view.usage)


def _mermaid(view: PlanView) -> str:
    from engine.plan.pictures import render_mermaid

    return render_mermaid(view.jobs)


def _dot(view: PlanView) -> str:
    from engine.plan.pictures import render_dot

    return render_dot(view.jobs)


# Each renderer imports its module when asked: a run pays only for the format it shows.
FORMATS: dict[str, Callable[[PlanView], str]] = {
    "json": _json,
    "mermaid": _mermaid,
    "dot": _dot,
}


def render(fmt: str, view: PlanView) -> str:
    """`view` in the format named `fmt` (one of FORMATS)."""
    return FORMATS[fmt](view)
