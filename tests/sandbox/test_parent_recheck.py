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

from engine.core.diagnostics import PipelineFailed
from engine.core.limits import Limits
from engine.policy import load_policy
from engine.run.ingest import RunOptions, run
from engine.run.inputs import snapshot
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


def _inputs(tmp_path: Path) -> tuple[Any, Path]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(PIPELINE, encoding="utf-8")
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
