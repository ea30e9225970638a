"""The plan's format registry and the `--format` choices say the same thing."""

from __future__ import annotations

from engine.core.diagnostics import Location
from engine.core.jobs import Job
from engine.plan.formats import FORMATS, PlanView, render
from engine.run.arguments import COMMANDS

# Written outside the registry: the default text, and markdown, which only `--diff` shows.
OUTSIDE = {"text", "markdown"}


def test_every_registered_format_is_a_format_choice_and_back() -> None:
    choices = set(str(COMMANDS["plan"][1]["--format"][0]).split("|"))

    assert choices == set(FORMATS) | OUTSIDE


def test_each_format_renders_the_jobs() -> None:
    here = Location("pipeline.star", 1, 1)
    jobs = [Job("build", {"depends_on": [], "condition": "all_success"}, here),
            Job("ship", {"depends_on": ["build"], "condition": "all_success"}, here)]
    for fmt in FORMATS:
        text = render(fmt, PlanView(jobs, None, "triggers.json", None))
        assert "build" in text and "ship" in text, fmt
