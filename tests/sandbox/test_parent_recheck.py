"""The parent never trusts the child: jobs a misbehaving child returns are checked again.

A fault is injected on the child's side of the pipe: the forked child runs the real
evaluation, then tampers with the jobs it sends back (as a child whose interpreter had
been subverted could). The parent must refuse each tampered result with an error naming
the rule, and write nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.core.diagnostics import Frame, Location, PipelineFailed
from engine.core.jobs import Job
from engine.core.limits import Limits
from engine.core.validate import JobRules
from engine.core.workflows import Declared
from engine.policy import load_policy
from engine.run.ingest import RunOptions, run
from engine.run.inputs import snapshot
from engine.run.recheck import diagnostics_from_child, jobs_from_child, result_from_child
from engine.sandbox import child
from engine.sandbox.parent import Sandbox

Jobs = list[Any]
PIPELINE = """\
def build():
    trigger_job("build", container_image = "registry.example.com/build")

build()
"""
POLICY = """\
[jobs]
allowed_images = ["registry.example.com/*"]
max_priority = 10
allowed_conditions = ["all_success", "always"]
"""
EXISTING = b'{"type": "trigger_job", "operation_id": "before", "jobs": []}\n'


def _set(**fields: Any) -> Callable[[Jobs], Jobs]:
    def tamper(jobs: Jobs) -> Jobs:
        jobs[0]["fields"].update(fields)
        return jobs
    return tamper


def _many(count: int) -> Callable[[Jobs], Jobs]:
    def tamper(jobs: Jobs) -> Jobs:
        return [{**jobs[0], "fields": {**jobs[0]["fields"], "job_name": f"j{i}"}}
                for i in range(count)]
    return tamper


TAMPERED: dict[str, tuple[Callable[[Jobs], Jobs], str]] = {
    # how the child lies, and what the parent's error says
    "reserved env prefix": (_set(env={"REACTORCIDE_API_TOKEN": "x"}), "reserved prefix"),
    "image outside the policy": (_set(container_image="evil.example/miner"), "allowed_images"),
    "priority above the policy": (_set(priority=999_999_999), "max_priority"),
    "condition the policy forbids": (_set(condition="any_failed"), "allowed_conditions"),
    "platform authority field": (_set(ci_origin="trusted"), "ci_origin"),
    "invalid job name": (_set(job_name="../../etc"), "job_name"),
    "env value not a string": (_set(env={"A": 1}), "env"),
    "fields not an object": (lambda jobs: [{**jobs[0], "fields": None}], "must be an object"),
    "job not an object": (lambda jobs: ["build"], "malformed job"),
    "more jobs than the limit": (_many(4), "job limit of 3 jobs exceeded"),
}


@pytest.fixture
def lying_child(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[Jobs], Jobs]], Sandbox]:
    """A sandbox whose child evaluates for real, then alters the jobs it sends back."""

    def fork(tamper: Callable[[Jobs], Jobs]) -> Sandbox:
        real = child._evaluate

        def evaluate_then_lie(*args: Any, **kwargs: Any) -> Jobs:
            return tamper(real(*args, **kwargs))

        monkeypatch.setattr(child, "_evaluate", evaluate_then_lie)
        return Sandbox()  # forked now: the child inherits the fault

    return fork


def _inputs(tmp_path: Path, pipeline: str = PIPELINE) -> tuple[Any, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(pipeline, encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    triggers.write_bytes(EXISTING)
    env = {"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "a" * 40}
    return snapshot(src=src, pipeline=None, triggers_file=triggers, env=env, token=None), triggers


def _options(tmp_path: Path) -> RunOptions:
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(POLICY, encoding="utf-8")
    return RunOptions(policy=load_policy([str(policy_file)]),
                      limits=Limits(max_jobs=3, wall_seconds=20))


@pytest.mark.parametrize(("tamper", "needle"), TAMPERED.values(), ids=TAMPERED.keys())
def test_the_parent_refuses_what_a_lying_child_returns(
    tmp_path: Path, lying_child: Callable[[Callable[[Jobs], Jobs]], Sandbox],
    tamper: Callable[[Jobs], Jobs], needle: str,
) -> None:
    inputs, triggers = _inputs(tmp_path)
    sandbox = lying_child(tamper)

    with pytest.raises(PipelineFailed) as caught:
        run(inputs, _options(tmp_path), io.StringIO(), sandbox)

    (diagnostic,) = caught.value.diagnostics
    assert needle in diagnostic.message
    assert triggers.read_bytes() == EXISTING
    pipeline = str(tmp_path / "src" / "pipeline.star")
    if needle in ("malformed job", "job limit of 3 jobs exceeded"):
        assert str(diagnostic.location) == pipeline
        assert diagnostic.message in ("the sandbox returned a malformed job",
                                      "job limit of 3 jobs exceeded")
    elif needle != "must be an object":
        assert str(diagnostic.location) == f"{pipeline}:2:5"
        assert [(f.function, f.location.line) for f in diagnostic.stack] == [
            ("<module>", 4), ("build", 2)]


def test_exactly_the_job_limit_is_accepted(
    tmp_path: Path, lying_child: Callable[[Callable[[Jobs], Jobs]], Sandbox],
) -> None:
    inputs, _ = _inputs(tmp_path)
    outcome = run(inputs, _options(tmp_path), io.StringIO(), lying_child(_many(3)))
    assert [job.name for job in outcome.jobs] == ["j0", "j1", "j2"]
    assert [str(job.location) for job in outcome.jobs] == [
        f"{tmp_path / 'src' / 'pipeline.star'}:2:5"] * 3


def test_an_honest_child_passes_the_same_checks(
    tmp_path: Path, lying_child: Callable[[Callable[[Jobs], Jobs]], Sandbox],
) -> None:
    inputs, triggers = _inputs(tmp_path)
    sandbox = lying_child(lambda jobs: jobs)

    outcome = run(inputs, _options(tmp_path), io.StringIO(), sandbox)

    assert [job.name for job in outcome.jobs] == ["build"]
    assert b'"registry.example.com/build"' in triggers.read_bytes()


# --- the same re-check, in-process, on replies no honest child sends ----------------

WHERE = "src/pipeline.star"
SITE = {"location": {"file": WHERE, "line": 2, "col": 5},
        "stack": [{"location": {"file": WHERE, "line": 4, "col": 1}, "function": "<module>"},
                  {"location": {"file": WHERE, "line": 2, "col": 5}, "function": "build"}]}
AT_SITE = Location(WHERE, 2, 5)
SITE_STACK = (Frame(Location(WHERE, 4, 1), "<module>"), Frame(AT_SITE, "build"))


def _job(name: str, site: Any = 0, **fields: Any) -> dict[str, Any]:
    return {"site": site, "fields": {"job_name": name, **fields}}


def _declared(*names: str) -> Declared:
    declared = Declared()
    for name in names:
        declared.declare(name, None)
    return declared


def _recheck(items: list[Any], sites: Any, declared: Declared | None = None) -> list[Job]:
    return jobs_from_child(items, Limits(max_jobs=3), JobRules(), WHERE, declared, sites)


# the jobs and places a child returns, and the one diagnostic the parent answers with:
# (location, message); every malformed reply is refused at the pipeline, not at a place
MALFORMED = ("src/pipeline.star", "the sandbox returned a malformed job")
REFUSED_REPLIES: dict[str, tuple[list[Any], Any, tuple[str, str]]] = {
    "places not a list": ([_job("a")], {"0": SITE}, MALFORMED),
    "places missing": ([_job("a")], None, MALFORMED),
    "a place past the last": ([_job("a", site=1)], [SITE], MALFORMED),
    "a negative place": ([_job("a", site=-1)], [SITE], MALFORMED),
    "a place not a number": ([_job("a", site="0")], [SITE], MALFORMED),
    "a stack not a list": ([_job("a")], [{**SITE, "stack": 5}], MALFORMED),
    "a line not a number": ([_job("a")], [{"location": {"file": WHERE, "line": "x"}}],
                            MALFORMED),
    "a column not a number": ([_job("a")], [{"stack": [{"location": {"col": []}}]}],
                              MALFORMED),
    "a line not finite": ([_job("a")], [{"location": {"line": float("nan")}}], MALFORMED),
}


@pytest.mark.parametrize(("items", "sites", "refusal"), REFUSED_REPLIES.values(),
                         ids=REFUSED_REPLIES.keys())
def test_a_malformed_reply_is_refused_in_words(items: list[Any], sites: Any,
                                               refusal: tuple[str, str]) -> None:
    with pytest.raises(PipelineFailed) as caught:
        _recheck(items, sites)
    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [refusal]


def test_a_job_keeps_its_place_stack_and_workflow() -> None:
    jobs = _recheck([_job("a"), {**_job("b", depends_on=["a"]), "workflow": None},
                     {**_job("c"), "workflow": "nightly"}], [SITE], _declared("nightly"))
    assert [(j.name, j.location, j.stack, j.workflow) for j in jobs] == [
        ("a", AT_SITE, SITE_STACK, None), ("b", AT_SITE, SITE_STACK, None),
        ("c", AT_SITE, SITE_STACK, "nightly")]
    assert jobs[1].fields["depends_on"] == ["a"]


def test_a_place_without_a_stack_or_location_is_still_one() -> None:
    (job,) = _recheck([_job("a")], [{"location": SITE["location"]}])
    assert (job.location, job.stack) == (AT_SITE, ())
    (job,) = _recheck([_job("a")], ["not a place"])
    assert (str(job.location), job.stack) == ("<unknown>", ())


def test_without_declared_workflows_no_job_names_one() -> None:
    (job,) = _recheck([{**_job("a"), "workflow": "nightly"}], [SITE], None)
    assert job.workflow is None


def test_every_bad_job_is_named_at_its_place() -> None:
    second = {"location": {"file": WHERE, "line": 3, "col": 5}, "stack": []}
    with pytest.raises(PipelineFailed) as caught:
        _recheck([_job("a", env={"A": 1}), {**_job("b", site=1), "workflow": "weekly"},
                  _job("c")], [SITE, second], _declared("nightly"))
    assert [(str(d.location), d.message, d.stack) for d in caught.value.diagnostics] == [
        (f"{WHERE}:2:5", "job \"a\": env['A'] must be a string, got int", SITE_STACK),
        (f"{WHERE}:3:5", "workflow 'weekly' is not declared: call workflow(\"weekly\") "
                         "before triggering jobs in it", ())]


def test_a_dependency_across_workflows_is_refused_at_the_dependent_job() -> None:
    second = {"location": {"file": WHERE, "line": 3, "col": 5}, "stack": []}
    with pytest.raises(PipelineFailed) as caught:
        _recheck([_job("a", site=1), {**_job("b", depends_on=["a"]), "workflow": "nightly"}],
                 [SITE, second], _declared("nightly"))
    assert [(str(d.location), d.message, d.stack) for d in caught.value.diagnostics] == [
        (f"{WHERE}:2:5", 'job "b" (workflow \'nightly\') depends on "a" (the default '
                         "workflow): each workflow is its own graph on the coordinator, "
                         "where this dependency would wait forever", SITE_STACK)]


def _result(**fields: Any) -> dict[str, Any]:
    return {"type": "result", "jobs": [_job("a")], "sites": [SITE], **fields}


# a reply other than the jobs, and the parent's words for it (at the pipeline)
REFUSED_RESULTS: dict[str, tuple[dict[str, Any], str]] = {
    "no type": ({"jobs": []}, "the sandbox returned no result"),
    "another type": ({"type": "evaluated", "jobs": []}, "the sandbox returned no result"),
    "jobs not a list": (_result(jobs={"a": {}}), "the sandbox returned no result"),
    "workflows not a list": (_result(workflows={"name": "x"}),
                             "the sandbox returned malformed workflows"),
    "a workflow declared twice": (
        _result(workflows=[{"name": "x"}, {"name": "x"}]),
        "the sandbox returned workflow 'x' is declared twice"),
    "a state not an object": (_result(workflow_state=["vars"]),
                              "the sandbox returned malformed workflow state"),
    "a state value not JSON": (
        _result(workflow_state={"vars": {"k": float("nan")}}),
        "the sandbox returned the value of 'k' is not JSON: Out of range float values are "
        "not JSON compliant"),
}


@pytest.mark.parametrize(("message", "words"), REFUSED_RESULTS.values(),
                         ids=REFUSED_RESULTS.keys())
def test_a_reply_that_is_not_a_result_is_refused_in_words(message: dict[str, Any],
                                                          words: str) -> None:
    with pytest.raises(PipelineFailed) as caught:
        result_from_child(message, Limits(max_jobs=3), JobRules(), WHERE)
    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
        (WHERE, words)]


def test_a_result_gives_its_jobs_workflows_and_state_checked() -> None:
    message = _result(jobs=[_job("a"), {**_job("b"), "workflow": "x"}],
                      workflows=[{"name": "x", "vars": {"v": "1"}}],
                      workflow_state={"vars": {" k ": 1}})
    jobs, state, declared = result_from_child(message, Limits(max_jobs=3),
                                              JobRules(max_priority=5), WHERE)
    assert [(job.name, job.workflow, job.location) for job in jobs] == [
        ("a", None, AT_SITE), ("b", "x", AT_SITE)]
    assert declared.vars == {"x": {"v": "1"}}
    assert state == {"vars": {"k": 1}, "outputs": {}}


def test_a_result_without_workflows_or_state_has_none() -> None:
    jobs, state, declared = result_from_child(_result(), Limits(max_jobs=3), JobRules(),
                                              WHERE)
    assert ([job.name for job in jobs], state, declared.vars) == (
        ["a"], {"vars": {}, "outputs": {}}, {})


def test_a_result_is_checked_against_the_limits_and_rules_given() -> None:
    with pytest.raises(PipelineFailed) as caught:
        result_from_child(_result(jobs=[_job("a", priority=9)]), Limits(max_jobs=3),
                          JobRules(max_priority=5), WHERE)
    assert [d.message for d in caught.value.diagnostics] == [
        'job "a": priority 9 is above the policy\'s maximum of 5 (jobs.max_priority)']
    with pytest.raises(PipelineFailed) as caught:
        result_from_child(_result(jobs=[_job("a"), _job("b")]), Limits(max_jobs=1),
                          JobRules(), WHERE)
    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
        (WHERE, "job limit of 1 jobs exceeded")]
    with pytest.raises(PipelineFailed) as caught:
        jobs_from_child([_job("a", priority=9)], Limits(max_jobs=3), JobRules(max_priority=5),
                        WHERE, None, [SITE])
    assert [d.message for d in caught.value.diagnostics] == [
        'job "a": priority 9 is above the policy\'s maximum of 5 (jobs.max_priority)']


# --- a failure the child reports is checked too -------------------------------------

FAILING = 'fail("broken")\n'
GOOD_DIAGNOSTIC = {"location": {"file": WHERE, "line": 1, "col": 1}, "message": "broken",
                   "stack": [{"location": {"file": WHERE, "line": 1, "col": 1},
                              "function": "<module>"}]}

# the diagnostics of a failure a child reports, when they are not diagnostics
MALFORMED_FAILURES: dict[str, Any] = {
    "diagnostics missing": None,
    "diagnostics not a list": {"0": GOOD_DIAGNOSTIC},
    "diagnostics a number": 5,
    "no diagnostic": [],
    "a diagnostic not an object": ["broken"],
    "a message not a string": [{**GOOD_DIAGNOSTIC, "message": ["broken"]}],
    "a message missing": [{"location": GOOD_DIAGNOSTIC["location"]}],
    "a stack not a list": [{**GOOD_DIAGNOSTIC, "stack": 5}],
    "a line not a number": [{**GOOD_DIAGNOSTIC, "location": {"file": WHERE, "line": "x"}}],
    "a column not a number in the stack": [
        {**GOOD_DIAGNOSTIC, "stack": [{"location": {"col": []}, "function": "f"}]}],
    "a line not finite": [{**GOOD_DIAGNOSTIC, "location": {"line": float("inf")}}],
    "one good, one not": [GOOD_DIAGNOSTIC, {**GOOD_DIAGNOSTIC, "stack": "x"}],
}


@pytest.mark.parametrize("items", MALFORMED_FAILURES.values(), ids=MALFORMED_FAILURES.keys())
def test_a_malformed_failure_is_refused_in_words(items: Any) -> None:
    with pytest.raises(PipelineFailed) as caught:
        diagnostics_from_child(items, WHERE, str)
    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
        (WHERE, "the sandbox returned a malformed failure")]


def test_a_failure_gives_its_diagnostics_with_their_messages_fitted() -> None:
    plain = {"location": {"file": WHERE, "line": 3, "col": 2}, "message": "second"}
    diagnostics = diagnostics_from_child([GOOD_DIAGNOSTIC, plain], WHERE, str.upper)
    assert [(str(d.location), d.message, d.stack) for d in diagnostics] == [
        (f"{WHERE}:1:1", "BROKEN", (Frame(Location(WHERE, 1, 1), "<module>"),)),
        (f"{WHERE}:3:2", "SECOND", ())]


@pytest.fixture
def failing_child(monkeypatch: pytest.MonkeyPatch
                  ) -> Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Sandbox]:
    """A sandbox whose child evaluates for real, then alters the failure it reports."""

    def fork(tamper: Callable[[dict[str, Any]], dict[str, Any]]) -> Sandbox:
        real = child._run

        def run_then_lie(*args: Any, **kwargs: Any) -> dict[str, Any]:
            reply = real(*args, **kwargs)
            return tamper(reply) if reply.get("type") == "failed" else reply

        monkeypatch.setattr(child, "_run", run_then_lie)
        return Sandbox()  # forked now: the child inherits the fault

    return fork


@pytest.mark.parametrize("items", [None, [], ["broken"], [{"message": "x", "stack": 5}],
                                   [{"message": "x", "location": {"line": "one"}}]],
                         ids=["missing", "empty", "not an object", "stack not a list",
                              "line not a number"])
def test_the_parent_refuses_a_malformed_failure_a_child_reports(
    tmp_path: Path,
    failing_child: Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Sandbox],
    items: Any,
) -> None:
    inputs, triggers = _inputs(tmp_path, FAILING)
    sandbox = failing_child(lambda reply: {**reply, "diagnostics": items})

    with pytest.raises(PipelineFailed) as caught:
        run(inputs, _options(tmp_path), io.StringIO(), sandbox)

    assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
        (str(tmp_path / "src" / "pipeline.star"), "the sandbox returned a malformed failure")]
    assert triggers.read_bytes() == EXISTING


def test_an_honest_failure_is_reported_as_the_child_said(
    tmp_path: Path,
    failing_child: Callable[[Callable[[dict[str, Any]], dict[str, Any]]], Sandbox],
) -> None:
    inputs, triggers = _inputs(tmp_path, FAILING)
    with pytest.raises(PipelineFailed) as caught:
        run(inputs, _options(tmp_path), io.StringIO(), failing_child(lambda reply: reply))
    (diagnostic,) = caught.value.diagnostics
    assert (str(diagnostic.location), diagnostic.message) == (
        f"{tmp_path / 'src' / 'pipeline.star'}:1:1", "fail: broken")
    assert triggers.read_bytes() == EXISTING


# --- the diagnostics of `check`, which a child may also tamper with --------------------


def test_a_check_may_find_nothing_but_its_diagnostics_are_checked_the_same() -> None:
    assert diagnostics_from_child([], WHERE, str, "check") == []
    (found,) = diagnostics_from_child([GOOD_DIAGNOSTIC], WHERE, str, "check")
    assert (str(found.location), found.message) == (f"{WHERE}:1:1", "broken")
    for items in (None, 5, ["broken"], [{**GOOD_DIAGNOSTIC, "stack": 5}]):
        with pytest.raises(PipelineFailed) as caught:
            diagnostics_from_child(items, WHERE, str, "check")
        assert [(str(d.location), d.message) for d in caught.value.diagnostics] == [
            (WHERE, "the sandbox returned a malformed check")]


@pytest.mark.parametrize(("items", "code", "said"), [
    (None, 1, "the sandbox returned a malformed check"),
    ([{"message": "x", "location": {"line": "one"}}], 1,
     "the sandbox returned a malformed check"),
    ([], 0, ""),
], ids=["missing", "line not a number", "honest and clean"])
def test_check_refuses_a_malformed_reply_a_child_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: Any, code: int, said: str,
) -> None:
    from engine.cli.main import main

    real = child._run

    def run_then_lie(*args: Any, **kwargs: Any) -> dict[str, Any]:
        reply = real(*args, **kwargs)
        return {**reply, "diagnostics": items} if reply.get("type") == "checked" else reply

    monkeypatch.setattr(child, "_run", run_then_lie)  # the child forked in main inherits it
    pipeline = tmp_path / "pipeline.star"
    pipeline.write_text('trigger_job("a")\n', encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    assert main(["check", str(pipeline)], out, err) == code

    assert said in err.getvalue()
    assert "internal error" not in err.getvalue()
