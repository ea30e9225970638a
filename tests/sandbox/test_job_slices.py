"""Jobs that reach the parent in slices while the pipeline runs are held to the same
checks as jobs in the result, and a child that breaks the protocol is named for it.

The child sends its jobs in slices so that the parent re-checks them on its own core
meanwhile; every verdict must be the one the whole reply at once would get.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.core.diagnostics import PipelineFailed
from engine.core.limits import Limits
from engine.core.validate import JobRules
from engine.core.workflows import Declared
from engine.run.ingest import run
from engine.run.recheck import JobIntake, jobs_from_child
from engine.sandbox import child, outbox, proxies
from engine.sandbox.parent import Sandbox
from tests.sandbox.test_parent_recheck import (
    EXISTING,
    SITE,
    SITE_STACK,
    TAMPERED,
    WHERE,
    Jobs,
    _inputs,
    _job,
    _options,
)

# --- a lying child, its lie in a slice -----------------------------------------------


@pytest.fixture
def lying_slices(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[Jobs], Jobs]], Sandbox]:
    """A sandbox whose child sends every job in a slice of its own, altered."""

    def fork(tamper: Callable[[Jobs], Jobs]) -> Sandbox:
        real = proxies.Channel.notify

        def notify_then_lie(self: proxies.Channel, message: dict[str, Any]) -> None:
            if message.get("type") == "jobs":
                message = {**message, "jobs": tamper(message["jobs"])}
            real(self, message)

        monkeypatch.setattr(outbox, "SLICE", 1)
        monkeypatch.setattr(proxies.Channel, "notify", notify_then_lie)
        return Sandbox()  # forked now: the child inherits the fault

    return fork


@pytest.mark.parametrize(("tamper", "needle"), TAMPERED.values(), ids=TAMPERED.keys())
def test_a_lie_in_a_slice_is_refused_as_one_in_the_result(
    tmp_path: Path, lying_slices: Callable[[Callable[[Jobs], Jobs]], Sandbox],
    tamper: Callable[[Jobs], Jobs], needle: str,
) -> None:
    inputs, triggers = _inputs(tmp_path)

    with pytest.raises(PipelineFailed) as caught:
        run(inputs, _options(tmp_path), io.StringIO(), lying_slices(tamper))

    (diagnostic,) = caught.value.diagnostics
    assert needle in diagnostic.message
    assert triggers.read_bytes() == EXISTING


def test_an_honest_child_in_slices_writes_what_it_would_in_one_result(
    tmp_path: Path, lying_slices: Callable[[Callable[[Jobs], Jobs]], Sandbox],
) -> None:
    inputs, triggers = _inputs(tmp_path)
    whole = run(inputs, _options(tmp_path), io.StringIO(), Sandbox())
    triggers.write_bytes(EXISTING)

    sliced = run(inputs, _options(tmp_path), io.StringIO(), lying_slices(lambda jobs: jobs))

    assert sliced.document == whole.document
    assert [(j.name, j.location, j.stack) for j in sliced.jobs] == [
        (j.name, j.location, j.stack) for j in whole.jobs]


# --- a child that breaks the protocol --------------------------------------------------


def _breaking(monkeypatch: pytest.MonkeyPatch, act: Callable[[int, dict[str, Any]], None]
              ) -> Sandbox:
    """A sandbox whose child does `act(to_parent, request)` before evaluating."""
    real = child._evaluate

    def evaluate(request: dict[str, Any], limits: Any, to_parent: int, *rest: Any) -> Jobs:
        act(to_parent, request)
        return real(request, limits, to_parent, *rest)

    monkeypatch.setattr(child, "_evaluate", evaluate)
    return Sandbox()


def _garbage(to_parent: int, request: dict[str, Any]) -> None:
    os.write(to_parent, b"\x00\x00\x00\x05{nope")


def _unasked(to_parent: int, request: dict[str, Any]) -> None:
    request["stream_jobs"] = True  # as if asked
    outbox.SLICE = 1


@pytest.mark.parametrize(("act", "words"), [
    (_garbage, "the sandbox failed: it sent a malformed message"),
    (_unasked, "the sandbox failed: it sent jobs it was not asked to send"),
], ids=["malformed message", "jobs unasked"])
def test_a_child_that_breaks_the_protocol_is_named_for_it(
    monkeypatch: pytest.MonkeyPatch, act: Callable[[int, dict[str, Any]], None],
    words: str,
) -> None:
    sandbox = _breaking(monkeypatch, act)
    request = {"mode": "evaluate", "source": {"name": "p.star", "text": 'trigger_job("a")\n'},
               "context": {}, "rules": JobRules().to_json(), "disabled": []}
    services = _Quiet()

    with pytest.raises(PipelineFailed) as caught:
        sandbox.run(request, Limits(wall_seconds=20), services, "p.star")  # no on_jobs

    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
        ("p.star", words)]


class _Quiet:
    def answer(self, capability: str, method: str, args: list[Any]) -> Any:
        raise AssertionError("no capability call expected")

    def show(self, text: str) -> None:
        raise AssertionError("no output expected")


# --- the same verdicts in-process, for any way of slicing a reply ----------------------

SECOND = {"location": {"file": WHERE, "line": 3, "col": 5}, "stack": []}
REPLIES: dict[str, tuple[list[Any], list[Any]]] = {
    "valid": ([_job("a"), _job("b", site=1, depends_on=["a"]), _job("c"), _job("d", site=1)],
              [SITE, SECOND]),
    "problems in two slices": ([_job("a", env={"A": 1}), _job("b", site=1), _job("c"),
                                _job("d", site=1, priority="high")], [SITE, SECOND]),
    "a problem, then malformed": ([_job("a", env={"A": 1}), _job("b"), "not a job",
                                   _job("d")], [SITE, SECOND]),
    "a place past the last": ([_job("a"), _job("b", site=2), _job("c"), _job("d")],
                              [SITE, SECOND]),
    "over the limit late": ([_job("a"), _job("b"), _job("c"), _job("d"), _job("e")],
                            [SITE]),
    "a workflow not declared": ([_job("a"), {**_job("b"), "workflow": "weekly"},
                                 {**_job("c"), "workflow": "nightly"}, _job("d")], [SITE]),
}


def _verdict(run_it: Callable[[], list[Any]]) -> Any:
    try:
        return [(j.name, j.location, j.stack, j.workflow, j.fields) for j in run_it()]
    except PipelineFailed as failure:
        return [(str(d.location), d.message, d.stack) for d in failure.diagnostics]


def _sliced(items: list[Any], sites: list[Any], cut: int, declared: Declared) -> list[Any]:
    """The reply as a slice of the first `cut` jobs (with the places they name first)
    and the rest."""
    used = {item["site"] for item in items[:cut] if isinstance(item, dict)
            and isinstance(item.get("site"), int)}
    first = max(used, default=-1) + 1
    intake = JobIntake(Limits(max_jobs=4), JobRules(), WHERE)
    intake.take({"type": "jobs", "jobs": items[:cut], "sites": sites[:first]})
    intake.take({"type": "result", "jobs": items[cut:], "sites": sites[first:]})
    return intake.finish(declared)


@pytest.mark.parametrize(("items", "sites"), REPLIES.values(), ids=REPLIES.keys())
def test_any_slicing_of_a_reply_gets_the_whole_replys_verdict(items: list[Any],
                                                              sites: list[Any]) -> None:
    declared = Declared()
    declared.declare("nightly", None)
    whole = _verdict(lambda: jobs_from_child(items, Limits(max_jobs=4), JobRules(), WHERE,
                                             declared, sites))
    for cut in range(len(items) + 1):
        assert _verdict(functools.partial(_sliced, items, sites, cut, declared)) == whole, cut


def _intake(max_jobs: int = 4, rules: JobRules | None = None,
            prepare: Callable[[Any], Any] | None = None) -> JobIntake:
    return JobIntake(Limits(max_jobs=max_jobs), rules or JobRules(), WHERE, prepare)


def _recording() -> tuple[list[str], Callable[[Any], Any]]:
    """A `prepare` that notes the name of each job it is handed, and its notes."""
    prepared: list[str] = []

    def prepare(job: Any) -> Any:
        prepared.append(job.name)
        return job

    return prepared, prepare


def _refusal(intake: JobIntake) -> list[tuple[str, str]]:
    with pytest.raises(PipelineFailed) as caught:
        intake.finish(None)
    return [(str(d.location), d.message) for d in caught.value.diagnostics]


def test_a_slice_whose_jobs_are_not_a_list_is_malformed() -> None:
    intake = _intake()
    intake.take({"type": "jobs", "jobs": {"a": _job("a")}, "sites": [SITE]})
    intake.take({"type": "result", "jobs": [_job("b")], "sites": [SITE]})
    assert _refusal(intake) == [(WHERE, "the sandbox returned a malformed job")]


def test_past_the_job_limit_nothing_more_is_rechecked_or_prepared() -> None:
    prepared, prepare = _recording()
    intake = _intake(max_jobs=2, prepare=prepare)
    intake.take({"jobs": [_job("a")], "sites": [SITE]})
    intake.take({"jobs": [_job("b"), _job("c")], "sites": []})
    intake.take({"jobs": [_job("d")], "sites": []})
    assert prepared == ["a"]
    assert _refusal(intake) == [(WHERE, "job limit of 2 jobs exceeded")]


def test_after_a_malformed_slice_nothing_more_is_rechecked() -> None:
    prepared, prepare = _recording()
    intake = _intake(prepare=prepare)
    intake.take({"jobs": ["not a job"], "sites": [SITE]})
    intake.take({"jobs": [_job("b")], "sites": []})
    assert prepared == []


def test_every_workflow_problem_is_named_with_its_stack() -> None:
    intake = _intake()
    intake.take({"jobs": [{**_job("a"), "workflow": "weekly"}, {**_job("b"), "workflow": "x"},
                          _job("c", priority="high")], "sites": [SITE]})
    with pytest.raises(PipelineFailed) as caught:
        intake.finish(Declared())
    assert [(d.message.split(":")[0], d.stack) for d in caught.value.diagnostics] == [
        ("workflow 'weekly' is not declared", SITE_STACK),
        ("workflow 'x' is not declared", SITE_STACK),
        ('job "c"', SITE_STACK)]


def test_a_prepared_job_keeps_its_workflow() -> None:
    declared = Declared()
    declared.declare("nightly", None)
    seen, prepare = _recording()
    intake = _intake(prepare=prepare)
    intake.take({"jobs": [{**_job("a"), "workflow": "nightly"}], "sites": [SITE]})
    intake.take({"jobs": [_job("b")], "sites": []})
    assert seen == ["a", "b"]
    assert [(j.name, j.workflow) for j in intake.finish(declared)] == [
        ("a", "nightly"), ("b", None)]
