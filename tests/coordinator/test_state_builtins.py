"""`is_job_running` and `get_job_result` end to end: CLI -> sandbox -> parent -> coordinator.

The coordinator is a real HTTPS (or, where stated, plain HTTP) server on 127.0.0.1.
Which statuses count as running and which finished job is the result are a table in
tests/capabilities/test_coordinator_http.py; here one status of each kind shows the
answer reaching the pipeline.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli

TOKEN_VAR = "REACTORCIDE_API_TOKEN"
URL_VAR = "REACTORCIDE_COORDINATOR_URL"
JOBS_PATH = "/api/v1/jobs"
RUNNING = ("submitted", "queued", "running", "cancelling")
FINISHED = ("completed", "failed", "cancelled", "timeout")


def https_env(server: FakeCoordinator, token: str) -> dict[str, str]:
    """Environment pointing the engine at the HTTPS fake, trusting its certificate."""
    return {
        URL_VAR: server.url,
        TOKEN_VAR: token,
        "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"],
    }


def ingest(tmp_path: Path, text: str, env: dict[str, str], *extra: str) -> tuple[Result, Path]:
    """Write `text` as the pipeline and run the CLI; returns the result and triggers path."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir(exist_ok=True)
    # The file is what these tests read: a job that could submit is told not to.
    result = run_cli("--src", src, "--triggers-file", triggers, "--no-submit", *extra,
                        env=env, timeout=120)
    return result, triggers


def written_jobs(triggers: Path) -> dict[str, dict[str, Any]]:
    """The jobs of a triggers file, by name, in file order."""
    doc = json.loads(triggers.read_bytes())
    return {job["job_name"]: job for job in doc["jobs"]}


def first_error(result: Result) -> str:
    """The first line of the diagnostics."""
    return result.stderr.splitlines()[0]


def column_of(text: str, line: int, needle: str) -> int:
    """1-based column of `needle` on a 1-based line of `text`."""
    return text.splitlines()[line - 1].index(needle) + 1


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


GUARDED_DEPLOY = """\
trigger_job("build")
if not is_job_running("deploy"):
    trigger_job("deploy", depends_on = ["build"])
"""


# --- is_job_running --------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["running"])
def test_running_job_is_not_triggered_again(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, status: str
) -> None:
    coordinator.add_job("deploy", status)
    coordinator.add_job("unrelated", "completed", exit_code=0)

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, https_env(coordinator, coordinator_token))

    assert result.code == 0, result.output
    assert list(written_jobs(triggers)) == ["build"]
    assert coordinator.requests_to(JOBS_PATH)
    assert {r.headers.get("authorization") for r in coordinator.requests} == {
        f"Bearer {coordinator_token}"
    }


@pytest.mark.parametrize("finished", [None, "completed"])
def test_job_not_running_is_triggered(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, finished: str | None
) -> None:
    if finished is not None:
        coordinator.add_job("deploy", finished, exit_code=0)
    coordinator.add_job("deploy-other", "running")

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, https_env(coordinator, coordinator_token))

    assert result.code == 0, result.output
    jobs = written_jobs(triggers)
    assert list(jobs) == ["build", "deploy"]
    assert jobs["deploy"]["depends_on"] == ["build"]


def test_is_job_running_is_also_reachable_through_ctx(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("deploy", "running")
    text = (
        'names = [n for n in ["deploy", "lint"] if not ctx.is_job_running(n)]\n'
        "for n in names:\n"
        "    trigger_job(n)\n"
    )

    result, triggers = ingest(tmp_path, text, https_env(coordinator, coordinator_token))

    assert result.code == 0, result.output
    assert list(written_jobs(triggers)) == ["lint"]


# --- get_job_result --------------------------------------------------------------------------

DEPLOY_IF_TESTS_PASSED = """\
r = get_job_result("test")
if r != None and r["exit_code"] == 0:
    trigger_job("deploy", env = {
        "TEST_JOB": r["job_id"],
        "TEST_NAME": r["name"],
        "TEST_STATUS": r["status"],
        "TEST_FINISHED": r["completed_at"],
    })
else:
    trigger_job("report", env = {"RESULT": str(r)})
"""


def test_result_fields_are_visible_to_the_pipeline(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job(
        "test", "completed", job_id="job-test-7", exit_code=0,
        started_at="2025-01-02T10:00:00Z", completed_at="2025-01-02T10:05:00Z",
    )

    result, triggers = ingest(
        tmp_path, DEPLOY_IF_TESTS_PASSED, https_env(coordinator, coordinator_token)
    )

    assert result.code == 0, result.output
    jobs = written_jobs(triggers)
    assert list(jobs) == ["deploy"]
    assert jobs["deploy"]["env"] == {
        "TEST_JOB": "job-test-7",
        "TEST_NAME": "test",
        "TEST_STATUS": "completed",
        "TEST_FINISHED": "2025-01-02T10:05:00Z",
    }


@pytest.mark.parametrize(
    ("status", "exit_code"), [("failed", 1), ("completed", 2), ("timeout", None)]
)
def test_failed_result_does_not_deploy(
    tmp_path: Path,
    coordinator: FakeCoordinator,
    coordinator_token: str,
    status: str,
    exit_code: int | None,
) -> None:
    coordinator.add_job("test", status, job_id="job-test-8", exit_code=exit_code,
                        completed_at="2025-01-02T10:05:00Z")

    result, triggers = ingest(
        tmp_path, DEPLOY_IF_TESTS_PASSED, https_env(coordinator, coordinator_token)
    )

    assert result.code == 0, result.output
    jobs = written_jobs(triggers)
    assert list(jobs) == ["report"]
    assert "job-test-8" in jobs["report"]["env"]["RESULT"]
    assert status in jobs["report"]["env"]["RESULT"]


def test_latest_finished_run_decides(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("test", "completed", job_id="old-pass", exit_code=0,
                        completed_at="2025-01-01T10:00:00Z")
    coordinator.add_job("test", "failed", job_id="new-fail", exit_code=1,
                        completed_at="2025-01-03T10:00:00Z")

    result, triggers = ingest(
        tmp_path, DEPLOY_IF_TESTS_PASSED, https_env(coordinator, coordinator_token)
    )

    assert result.code == 0, result.output
    jobs = written_jobs(triggers)
    assert list(jobs) == ["report"]
    assert "new-fail" in jobs["report"]["env"]["RESULT"]


def test_no_result_reads_as_none(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("test", "running")

    result, triggers = ingest(
        tmp_path, DEPLOY_IF_TESTS_PASSED, https_env(coordinator, coordinator_token)
    )

    assert result.code == 0, result.output
    assert written_jobs(triggers)["report"]["env"] == {"RESULT": "None"}


# --- configuration and transport errors ------------------------------------------------------

CALLS = {
    "is_job_running": GUARDED_DEPLOY,
    "get_job_result": 'trigger_job("build")\nr = get_job_result("test")\n',
}


@pytest.mark.parametrize("builtin", list(CALLS))
def test_missing_url_is_an_error_at_the_call(
    tmp_path: Path, coordinator_token: str, builtin: str
) -> None:
    text = CALLS[builtin]

    result, triggers = ingest(tmp_path, text, {TOKEN_VAR: coordinator_token})

    assert result.code == 1, result.output
    col = column_of(text, 2, builtin)
    assert first_error(result).startswith(f"{tmp_path / 'src' / 'pipeline.star'}:2:{col}: error:")
    assert URL_VAR in first_error(result)
    assert not triggers.exists()


@pytest.mark.parametrize("builtin", list(CALLS))
def test_missing_token_is_an_error_at_the_call(
    tmp_path: Path, coordinator: FakeCoordinator, builtin: str
) -> None:
    text = CALLS[builtin]
    env = {URL_VAR: coordinator.url, "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]}

    result, triggers = ingest(tmp_path, text, env)

    assert result.code == 1, result.output
    col = column_of(text, 2, builtin)
    assert first_error(result).startswith(f"{tmp_path / 'src' / 'pipeline.star'}:2:{col}: error:")
    assert TOKEN_VAR in first_error(result)
    assert coordinator.requests == []
    assert not triggers.exists()


@pytest.mark.parametrize("builtin", list(CALLS))
def test_plain_http_is_refused_without_the_flag(
    tmp_path: Path, http_coordinator: FakeCoordinator, coordinator_token: str, builtin: str
) -> None:
    http_coordinator.add_job("deploy", "running")
    env = {URL_VAR: http_coordinator.url, TOKEN_VAR: coordinator_token}

    result, triggers = ingest(tmp_path, CALLS[builtin], env)

    assert http_coordinator.requests == []
    assert coordinator_token not in result.output
    assert not triggers.exists()
    assert result.code == 1, result.output
    assert "plain http" in result.stderr and "refused" in result.stderr
    assert "--allow-insecure-transport" in result.stderr


def test_plain_http_works_with_the_flag(
    tmp_path: Path, http_coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    http_coordinator.add_job("deploy", "running")
    env = {URL_VAR: http_coordinator.url, TOKEN_VAR: coordinator_token}

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, env, "--allow-insecure-transport")

    assert result.code == 0, result.output
    assert list(written_jobs(triggers)) == ["build"]
    assert http_coordinator.requests_to(JOBS_PATH)


def test_wrong_token_is_an_error_not_false(
    tmp_path: Path, coordinator: FakeCoordinator
) -> None:
    env = https_env(coordinator, "tok-WRONG-000")

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, env)

    assert result.code == 1, result.output
    col = column_of(GUARDED_DEPLOY, 2, "is_job_running")
    assert f"pipeline.star:2:{col}: error:" in first_error(result)
    assert "401" in first_error(result)
    assert "tok-WRONG-000" not in result.output
    assert not triggers.exists()


@pytest.mark.parametrize("builtin", list(CALLS))
def test_coordinator_down_is_an_error_not_false(
    tmp_path: Path, coordinator_token: str, builtin: str
) -> None:
    text = CALLS[builtin]
    env = {URL_VAR: f"https://127.0.0.1:{closed_port()}", TOKEN_VAR: coordinator_token}

    result, triggers = ingest(tmp_path, text, env)

    assert result.code == 1, result.output
    col = column_of(text, 2, builtin)
    assert first_error(result).startswith(f"{tmp_path / 'src' / 'pipeline.star'}:2:{col}: error:")
    assert "not reachable" in first_error(result)
    assert not triggers.exists()


# --- faults seen through the pipeline -----------------------------------------------------


def test_transient_5xx_is_retried_and_the_pipeline_proceeds(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("deploy", "running")
    coordinator.enqueue_fault(500, "database down")
    coordinator.enqueue_reset()

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, https_env(coordinator, coordinator_token))

    assert result.code == 0, result.output
    assert list(written_jobs(triggers)) == ["build"]


@pytest.mark.parametrize("status", [401, 403])
def test_a_token_without_jobs_read_is_named_not_read_as_false(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, status: int
) -> None:
    coordinator.enqueue_fault(status, "")

    result, triggers = ingest(tmp_path, GUARDED_DEPLOY, https_env(coordinator, coordinator_token))

    assert result.code == 1, result.output
    col = column_of(GUARDED_DEPLOY, 2, "is_job_running")
    assert f"pipeline.star:2:{col}: error:" in first_error(result)
    assert "jobs:read" in first_error(result)
    assert "may only submit" in first_error(result)
    assert len(coordinator.requests) == 1
    assert not triggers.exists()


# --- many names, one scan ------------------------------------------------------------------

FIFTY_NAMES = """\
names = ["job-%d" % n for n in range(50)]
for name in names:
    if not is_job_running(name):
        r = get_job_result(name)
        if r == None or r["exit_code"] != 0:
            trigger_job(name)
for name in names:
    is_job_running(name)
    ctx.get_job_result(name)
"""


def test_fifty_names_cost_one_listing_per_status(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    for number in range(50):
        status = (*RUNNING, *FINISHED)[number % 8]
        coordinator.add_job(f"job-{number}", status, exit_code=0 if number % 3 else 1)

    result, triggers = ingest(tmp_path, FIFTY_NAMES, https_env(coordinator, coordinator_token))

    assert result.code == 0, result.output
    listed = [r.query["status"][-1] for r in coordinator.requests_to(JOBS_PATH)]
    assert sorted(listed) == sorted((*RUNNING, *FINISHED))
    assert len(coordinator.requests) == 8
    expected = [
        f"job-{n}" for n in range(50)
        if (*RUNNING, *FINISHED)[n % 8] in FINISHED and n % 3 == 0
    ]
    assert list(written_jobs(triggers)) == expected


# --- scopes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "shown"),
    [('scope = "everywhere"', '"everywhere"'), ("scope = 1", "an int")],
)
def test_unknown_scope_is_an_error_at_the_call(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, call: str, shown: str
) -> None:
    text = f'trigger_job("build")\nx = is_job_running("deploy", {call})\n'

    result, triggers = ingest(tmp_path, text, https_env(coordinator, coordinator_token))

    assert result.code == 1, result.output
    col = column_of(text, 2, "is_job_running")
    assert f"pipeline.star:2:{col}: error:" in first_error(result)
    assert f'scope must be "workflow", "project" or "all", not {shown}' in first_error(result)
    assert coordinator.requests == []
    assert not triggers.exists()


SCOPED = """\
for scope in ["workflow", "project", "all"]:
    if is_job_running("deploy", scope = scope):
        trigger_job("deploy-running-in-" + scope)
    r = get_job_result("test", scope = scope)
    trigger_job("test-in-" + scope, env = {"JOB": r["job_id"] if r else "none"})
if is_job_running("deploy"):
    trigger_job("deploy-running-by-default")
"""


def _scoped_coordinator(server: FakeCoordinator) -> None:
    server.add_job("ingest", "running", job_id="self", project_id="p-1", workflow_id="wf-1")
    server.add_job("deploy", "running", job_id="d-1", project_id="p-1", workflow_id="wf-0")
    server.add_job("test", "completed", job_id="t-here", project_id="p-1", workflow_id="wf-1",
                   completed_at="2025-01-01T00:00:00Z")
    server.add_job("test", "failed", job_id="t-earlier", project_id="p-1", workflow_id="wf-0",
                   completed_at="2025-01-02T00:00:00Z")
    server.add_job("test", "completed", job_id="t-elsewhere", project_id="p-2",
                   workflow_id="wf-9", completed_at="2025-01-03T00:00:00Z")


def test_scopes_reach_the_coordinator_and_the_default_is_the_project(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    _scoped_coordinator(coordinator)
    env = {**https_env(coordinator, coordinator_token),
           "REACTORCIDE_JOB_ID": "self", "RC_WF_ID": "wf-1"}

    result, triggers = ingest(tmp_path, SCOPED, env)

    assert result.code == 0, result.output
    jobs = written_jobs(triggers)
    assert list(jobs) == [
        "test-in-workflow",
        "deploy-running-in-project", "test-in-project",
        "deploy-running-in-all", "test-in-all",
        "deploy-running-by-default",
    ]
    assert jobs["test-in-workflow"]["env"] == {"JOB": "t-here"}
    assert jobs["test-in-project"]["env"] == {"JOB": "t-earlier"}
    assert jobs["test-in-all"]["env"] == {"JOB": "t-elsewhere"}
    assert len(coordinator.requests_to("/api/v1/jobs/self")) == 1
    # Three scopes, two status sets each, four statuses a set; the default reused "project".
    assert len(coordinator.requests_to(JOBS_PATH)) == 3 * 8


def test_workflow_scope_without_a_workflow_is_an_error_at_the_call(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    text = 'trigger_job("build")\nr = get_job_result("test", scope = "workflow")\n'

    result, _ = ingest(tmp_path, text, https_env(coordinator, coordinator_token))

    assert result.code == 1, result.output
    col = column_of(text, 2, "get_job_result")
    assert f"pipeline.star:2:{col}: error:" in first_error(result)
    assert "RC_WF_ID is not set" in first_error(result)
    assert coordinator.requests == []
