"""What the coordinator does with job fields: defaults filled in an eval run, warnings for
fields it replaces or does not inherit, and a test coordinator as strict as the real one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.coordinator_payload import Refused, check
from tests.support.engine_run import run_cli

EVAL_ENV = {"REACTORCIDE_EVENT_TYPE": "push", "REACTORCIDE_BRANCH": "main",
            "REACTORCIDE_SHA": "c" * 40,
            "REACTORCIDE_SOURCE_URL": "https://user:pw@git.example/acme/shop.git"}


def _plan_json(tmp_path: Path, text: str, env: dict[str, str]) -> dict[str, Any]:
    (tmp_path / "pipeline.star").write_text(text)
    result = run_cli("plan", "--format", "json", "--src", tmp_path, env=env)
    assert result.code == 0, result.stderr
    plan: dict[str, Any] = json.loads(result.stdout)
    return plan


def test_an_eval_run_fills_the_checkout_fields(tmp_path: Path) -> None:
    plan = _plan_json(tmp_path, 'trigger_job("a", job_command = "make")\n'
                                'trigger_job("b", job_command = "x", source_type = "none")\n'
                                'trigger_job("c", job_command = "x", source_ref = "v1")\n',
                      EVAL_ENV)
    a, b, c = (entry["job"] for entry in plan["jobs"])
    assert a["source_type"] == "git"
    assert a["source_url"] == "https://git.example/acme/shop.git"  # no credentials
    assert a["source_ref"] == "c" * 40
    assert a["ci_source_type"] == "git"
    assert b["source_type"] == "none" and "source_url" not in b and "source_ref" not in b
    assert c["source_ref"] == "v1"


def test_a_local_run_fills_nothing(tmp_path: Path) -> None:
    plan = _plan_json(tmp_path, 'trigger_job("a", job_command = "make")\n', {})
    job = plan["jobs"][0]["job"]
    assert not {"source_type", "source_url", "source_ref", "ci_source_type"} & set(job)


def test_replaced_fields_and_a_missing_command_are_warned_about(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(
        'trigger_job("a", worker_class = "gpu", ci_source_url = "u", ci_source_ref = "r",'
        ' job_command = "x")\ntrigger_job("b")\n')
    result = run_cli("plan", "--src", tmp_path)
    assert result.code == 0, result.stderr
    for name in ("worker_class", "ci_source_url", "ci_source_ref"):
        assert f'pipeline.star:1:1: warning: job "a": {name} is replaced by the coordinator' \
            in result.stderr
    assert 'pipeline.star:2:1: warning: job "b" has no job_command' in result.stderr
    assert 'job "a" has no job_command' not in result.stderr


def test_the_document_names_the_plain_trigger_type(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text('trigger_job("a", job_command = "x")\n')
    out = tmp_path / "triggers.json"
    result = run_cli("ingest", "--no-submit", "--src", tmp_path, "--triggers-file", out)
    assert result.code == 0, result.stderr
    assert json.loads(out.read_text())["trigger_type"] == "runnerlib"


# -- the test coordinator refuses what the real one refuses ---------------------------

def _doc(**job: Any) -> dict[str, Any]:
    return {"type": "trigger_job", "trigger_type": "runnerlib", "operation_id": "op",
            "jobs": [{"job_name": "a", **job}]}


REFUSED: list[tuple[str, Any, int]] = [
    ("org in env", _doc(env={"org": "x"}), 500),
    ("org_id in vars", {**_doc(), "workflow": {"name": "w", "vars": {"org_id": 1}}}, 500),
    ("version", {**_doc(), "version": "1"}, 400),
    ("wrong type", {**_doc(), "type": "jobs"}, 400),
    ("eval trigger type", {**_doc(), "trigger_type": "runnerlib_eval"}, 400),
    ("job_file", _doc(job_file="a.yaml"), 400),
    ("ci_origin", _doc(ci_origin="base"), 400),
    ("numeric characteristic", _doc(characteristics={"gpus": 2}), 400),
    ("flat resources", _doc(resources={"cpu": "2"}), 400),
    ("memory request", _doc(resources={"memory": {"request": "1Gi"}}), 400),
    ("lower-case memory", _doc(resources={"memory": {"limit": "4gi"}}), 400),
    ("pull secret", _doc(image_pull_secrets=["A"]), 400),
    ("pull secret twice", _doc(image_pull_secrets=["a", "a"]), 400),
    ("env not string", _doc(env={"A": 1}), 400),
    ("priority string", _doc(priority="5"), 400),
    ("timeout float", _doc(timeout=1.5), 400),
]


@pytest.mark.parametrize(("payload", "status"), [(p, s) for _, p, s in REFUSED],
                         ids=[i for i, _, _ in REFUSED])
def test_the_test_coordinator_refuses_like_the_real_one(payload: Any, status: int) -> None:
    with pytest.raises(Refused) as refused:
        check(payload)
    assert refused.value.status == status


def test_the_test_coordinator_accepts_both_forms() -> None:
    assert len(check(_doc(resources={"cpu": {"request": "500m", "limit": 2},
                                     "memory": {"limit": "4Gi"}},
                          characteristics={"os": "linux", "gpu": True}))) == 1
    workflows = {"type": "trigger_job", "operation_id": "op", "workflows": [
        {"name": "w1", "vars": {"k": 1}, "jobs": [{"job_name": "a"}]},
        {"name": "w2", "jobs": [{"job_name": "b"}, {"job_name": "c"}]}]}
    assert [j["job_name"] for j in check(workflows)] == ["a", "b", "c"]
