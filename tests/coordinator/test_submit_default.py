"""Submission is the default in a job that can submit; `--no-submit` only writes.

An eval job gets `REACTORCIDE_COORDINATOR_URL`, a job token and `REACTORCIDE_JOB_ID`, and
its file is never read by a deployed worker: without the POST its jobs are lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli, run_script

PARENT = "eval-1"
TRIGGERS_PATH = f"/api/v1/jobs/{PARENT}/triggers"
PIPELINE = 'a = trigger_job("a", job_command = "make a")\n' \
           'trigger_job("b", job_command = "make b", depends_on = [a])\n'


def env_for(server: FakeCoordinator, token: str, ca: str) -> dict[str, str]:
    return {"REACTORCIDE_COORDINATOR_URL": server.url, "REACTORCIDE_API_TOKEN": token,
            "REACTORCIDE_JOB_ID": PARENT, "REQUESTS_CA_BUNDLE": ca}


def ingest(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[Result, Path]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(PIPELINE)
    triggers = tmp_path / "triggers.json"
    return run_cli("ingest", "--src", src, "--triggers-file", triggers, *args,
                      env=env), triggers


@pytest.fixture
def ca(monkeypatch: pytest.MonkeyPatch, coordinator: FakeCoordinator) -> str:
    import os

    return os.environ["REQUESTS_CA_BUNDLE"]


def test_ingest_submits_by_default_and_removes_the_file(
        tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, ca: str) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token, ca))
    assert result.code == 0, result.output
    [post] = coordinator.requests_to(TRIGGERS_PATH, "POST")
    sent = json.loads(post.body)
    assert sent["trigger_type"] == "runnerlib"
    assert [job["job_name"] for job in sent["jobs"]] == ["a", "b"]
    assert not triggers.exists()
    assert f"{sent['operation_id']}-0 {sent['operation_id']}-1" in result.stdout
    assert coordinator_token not in result.output


def test_no_submit_only_writes(tmp_path: Path, coordinator: FakeCoordinator,
                               coordinator_token: str, ca: str) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token, ca),
                              "--no-submit")
    assert result.code == 0, result.output
    assert triggers.exists()
    assert coordinator.requests_to(TRIGGERS_PATH, "POST") == []


def test_a_refusal_keeps_the_file_and_fails(tmp_path: Path, coordinator: FakeCoordinator,
                                            coordinator_token: str, ca: str) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    for _ in range(10):
        coordinator.enqueue_fault(500, "internal_error")
    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token, ca))
    assert result.code == 1
    assert triggers.exists()
    assert "is kept; no job was created from it" in result.stderr
    assert "500" in result.stderr
    assert coordinator_token not in result.output


def test_plain_http_is_refused_before_any_request(
        tmp_path: Path, http_coordinator: FakeCoordinator, coordinator_token: str) -> None:
    http_coordinator.add_job("eval", "running", job_id=PARENT)
    env = {"REACTORCIDE_COORDINATOR_URL": http_coordinator.url,
           "REACTORCIDE_API_TOKEN": coordinator_token, "REACTORCIDE_JOB_ID": PARENT}
    result, triggers = ingest(tmp_path, env)
    assert result.code == 2
    assert http_coordinator.requests == []
    assert not triggers.exists()
    assert "job command" in result.stderr
    assert "--allow-insecure-transport" in result.stderr
    allowed, _ = ingest(tmp_path, env, "--allow-insecure-transport")
    assert allowed.code == 0, allowed.output
    assert len(http_coordinator.requests_to(TRIGGERS_PATH, "POST")) == 1


def test_created_ids_are_printed_escaped(tmp_path: Path, coordinator: FakeCoordinator,
                                         coordinator_token: str, ca: str) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    coordinator.enqueue_fault(201, json.dumps({"created_job_ids": ["j1\x1b[2J", "j2\nx"],
                                               "count": 2}))
    result, _ = ingest(tmp_path, env_for(coordinator, coordinator_token, ca))
    assert result.code == 0, result.output
    assert "\x1b" not in result.stdout
    assert "j1\\u001b[2J j2\\nx" in result.stdout


def test_submit_and_no_submit_contradict(tmp_path: Path) -> None:
    result, _ = ingest(tmp_path, {}, "--submit", "--no-submit")
    assert result.code == 2


SCRIPT = """\
from workflow import trigger_job, workflow_context
with workflow_context():
    trigger_job("a", job_command="make a")
"""


def test_the_python_api_submits_the_same_way(
        tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, ca: str) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    script = tmp_path / "ingest.py"
    script.write_text(SCRIPT)
    triggers = tmp_path / "t.json"
    env = {**env_for(coordinator, coordinator_token, ca),
           "REACTORCIDE_TRIGGERS_FILE": str(triggers), "REACTORCIDE_CODE_DIR": str(tmp_path)}
    result = run_script(script, env=env, cwd=tmp_path)
    assert result.code == 0, result.output
    [post] = coordinator.requests_to(TRIGGERS_PATH, "POST")
    assert json.loads(post.body)["jobs"][0]["job_name"] == "a"
    assert not triggers.exists()

    for _ in range(10):
        coordinator.enqueue_fault(500, "no")
    failed = run_script(script, env={**env, "REACTORCIDE_JOB_ID": PARENT}, cwd=tmp_path)
    assert failed.code != 0
    assert triggers.exists()
    assert "is kept" in failed.stderr
    assert coordinator_token not in failed.output
