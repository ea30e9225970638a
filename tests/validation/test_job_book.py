"""The job book both APIs share, in-process: what it keeps of each trigger, when it fills
the checkout defaults, and the rules it applies across triggers (job limit, declared
workflows, a name triggered twice) in their exact words."""

from __future__ import annotations

from typing import Any

import pytest

from engine.core.diagnostics import Frame, Location
from engine.core.job_book import JobBook
from engine.core.validate import JobError, JobRules

HERE = Location("pipeline.star", 4, 5)
STACK = (Frame(Location("pipeline.star", 9, 1), "<module>"), Frame(HERE, "build"))
EVAL_RUN = {"source_url": "https://git.example.com/app.git", "commit": "c0ffee"}
CHECKOUT = {"source_type": "git", "ci_source_type": "git",
            "source_url": "https://git.example.com/app.git", "source_ref": "c0ffee"}
PLAIN = {"job_name": "build", "env": {"A": "1"}, "depends_on": ["setup"],
         "condition": "always", "priority": 3}

# defaults_from, the fields given besides the name, env, depends_on and condition, and
# the fields the book keeps
KEPT: dict[str, tuple[dict[str, Any] | None, Any, dict[str, Any]]] = {
    "left to the writer": (None, {"priority": 3}, PLAIN),
    "filled in an eval run": (EVAL_RUN, {"priority": 3}, {**PLAIN, **CHECKOUT}),
    "nothing to fill outside one": ({"commit": "c0ffee"}, {"priority": 3}, PLAIN),
    "fields not a dict are none": (None, None, {k: v for k, v in PLAIN.items()
                                                if k != "priority"}),
}


@pytest.mark.parametrize(("defaults_from", "fields", "kept"), KEPT.values(), ids=KEPT.keys())
def test_a_trigger_is_kept_whole_in_order(defaults_from: dict[str, Any] | None, fields: Any,
                                          kept: dict[str, Any]) -> None:
    book = JobBook(None, 5, defaults_from=defaults_from)
    first = book.add(Location("pipeline.star", 1, 1), "setup", None, None, None, {})
    job = book.add(HERE, "build", {"A": "1"}, ["setup"], "always", fields, STACK)
    assert (job.name, job.fields, job.location, job.stack, job.workflow) == (
        "build", kept, HERE, STACK, None)
    assert book.jobs == [first, job]
    assert [j.name for j in book.jobs] == ["setup", "build"]


def test_a_job_in_a_declared_workflow_names_it() -> None:
    book = JobBook(None, 5)
    assert book.declare("nightly", {"region": "eu"}) == "nightly"
    assert book.declared.vars == {"nightly": {"region": "eu"}}
    job = book.add(HERE, "build", None, None, None, {"workflow": "nightly", "priority": 1})
    assert job.workflow == "nightly"
    assert "workflow" not in job.fields
    assert job.fields["priority"] == 1


def test_the_fields_given_are_not_changed() -> None:
    fields = {"workflow": None, "priority": 2}
    JobBook(None, 5).add(HERE, "build", None, None, None, fields)
    assert fields == {"workflow": None, "priority": 2}


def _refusal(book: JobBook, name: Any = "build", **fields: Any) -> str:
    with pytest.raises(JobError) as raised:
        book.add(Location("pipeline.star", 7, 3), name, None, None, None, fields)
    return str(raised.value)


def test_exactly_the_job_limit_is_accepted_and_no_more() -> None:
    book = JobBook(None, 2)
    book.add(HERE, "a", None, None, None, {})
    book.add(HERE, "b", None, None, None, {})
    assert _refusal(book, "c") == "job limit of 2 jobs exceeded"
    assert [job.name for job in book.jobs] == ["a", "b"]


def test_a_workflow_not_declared_is_refused() -> None:
    book = JobBook(None, 5)
    book.declare("nightly", None)
    assert _refusal(book, workflow="weekly") == (
        'job "build": workflow \'weekly\' is not declared: call workflow("weekly") before '
        "triggering jobs in it")
    assert book.jobs == []


def test_a_name_triggered_twice_names_the_first_place() -> None:
    book = JobBook(None, 5)
    book.add(HERE, "build", None, None, None, {})
    assert _refusal(book) == 'job "build" is triggered twice (first at pipeline.star:4:5)'
    assert len(book.jobs) == 1


def test_the_rules_given_are_applied() -> None:
    book = JobBook(JobRules(max_priority=5), 5)
    assert _refusal(book, priority=9) == (
        'job "build": priority 9 is above the policy\'s maximum of 5 (jobs.max_priority)')
    assert JobBook(None, 5).add(HERE, "build", None, None, None,
                                {"priority": 9}).fields["priority"] == 9


def test_a_book_that_keeps_no_fields_still_applies_every_rule() -> None:
    # The sandbox's book: the caller takes each job's fields, the book keeps the rest.
    book = JobBook(None, 2, keep_fields=False)
    book.declare("nightly", None)
    job = book.add(HERE, "build", {"A": "1"}, ["setup"], "always",
                   {"priority": 3, "workflow": "nightly"}, STACK)
    assert (job.name, job.fields, job.workflow) == ("build", PLAIN, "nightly")
    (kept,) = book.jobs
    assert (kept.name, kept.fields, kept.location, kept.stack, kept.workflow) == (
        "build", {}, HERE, STACK, "nightly")
    assert _refusal(book) == 'job "build" is triggered twice (first at pipeline.star:4:5)'
    book.add(HERE, "test", None, None, None, {})
    assert _refusal(book, "lint") == "job limit of 2 jobs exceeded"
