"""Direct submission: `engine.triggers.submit.submit_file`, and `python -m engine ingest --submit`.

The coordinator is the real HTTPS fake on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.triggers.submit import SubmitError, check_target, submit_file
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli

PARENT = "parent-1"
TRIGGERS_PATH = f"/api/v1/jobs/{PARENT}/triggers"

TWO_JOBS = 'trigger_job("test")\ntrigger_job("deploy", depends_on = ["test"])\n'
GIT_ENV = {"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "c" * 40,
           "REACTORCIDE_GIT_REF": "refs/heads/main"}


def env_for(server: FakeCoordinator, token: str, **extra: str) -> dict[str, str]:
    env = {
        **GIT_ENV,
        "REACTORCIDE_COORDINATOR_URL": server.url,
        "REACTORCIDE_API_TOKEN": token,
        "REACTORCIDE_JOB_ID": PARENT,
    }
    if server.url.startswith("https://"):
        env["REQUESTS_CA_BUNDLE"] = os.environ["REQUESTS_CA_BUNDLE"]
    env.update(extra)
    return env


def ingest(tmp_path: Path, env: dict[str, str], *extra: str, text: str = TWO_JOBS,
           name: str = "triggers.json") -> tuple[Result, Path]:
    """Run `ingest` on a pipeline; returns the result and the triggers file's path."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    triggers = tmp_path / "out" / name
    triggers.parent.mkdir(exist_ok=True)
    result = run_cli("ingest", "--src", src, "--triggers-file", triggers, *extra, env=env)
    return result, triggers


def expected_bytes(tmp_path: Path, env: dict[str, str]) -> bytes:
    """What a plain ingest of the same inputs writes (the same inputs give the same bytes)."""
    result, path = ingest(tmp_path, env, "--no-submit", name="plain.json")
    assert result.code == 0, result.output
    return path.read_bytes()


# --- the command line ------------------------------------------------------------------


def test_submit_posts_the_written_file(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("ingest", "running", job_id=PARENT)
    env = env_for(coordinator, coordinator_token)
    written = expected_bytes(tmp_path, env)

    result, triggers = ingest(tmp_path, env, "--submit")

    assert result.code == 0, result.output
    [post] = coordinator.requests_to(TRIGGERS_PATH, "POST")
    assert post.body == written
    operation_id = json.loads(written)["operation_id"]
    for created in (f"{operation_id}-0", f"{operation_id}-1"):
        assert created in result.stdout
    assert not triggers.exists()  # handed in: the worker must not hand it in again
    assert coordinator_token not in result.output


def test_submit_retries_5xx(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("ingest", "running", job_id=PARENT)
    coordinator.enqueue_fault(500, "try again")
    coordinator.enqueue_fault(429, "", {"Retry-After": "0"})

    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token), "--submit")

    assert result.code == 0, result.output
    assert len(coordinator.requests_to(TRIGGERS_PATH, "POST")) == 3
    assert len(coordinator.operations) == 1
    assert not triggers.exists()


def test_submit_whose_answer_was_lost_is_retried_without_duplicates(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("ingest", "running", job_id=PARENT)
    coordinator.enqueue_reset(after_handling=True)

    result, _ = ingest(tmp_path, env_for(coordinator, coordinator_token), "--submit")

    assert result.code == 0, result.output
    assert len(coordinator.requests_to(TRIGGERS_PATH, "POST")) == 2
    assert len(coordinator.operations) == 1  # the same operation_id, created once


@pytest.mark.parametrize(
    ("faults", "fragments"),
    [
        ([(500, "database down")] * 4, ["HTTP 500", "database down", "gave up after 4"]),
        ([(403, "forbidden")], ["403", "jobs:submit"]),
        ([(401, "")], ["401", "jobs:submit"]),
        ([(400, '{"error": "bad payload"}')], ["HTTP 400", "bad payload"]),
    ],
    ids=["5xx-persisting", "403", "401", "400"],
)
def test_failed_submission_exits_1_and_keeps_the_file(
    tmp_path: Path,
    coordinator: FakeCoordinator,
    coordinator_token: str,
    faults: list[tuple[int, str]],
    fragments: list[str],
) -> None:
    coordinator.add_job("ingest", "running", job_id=PARENT)
    env = env_for(coordinator, coordinator_token)
    written = expected_bytes(tmp_path, env)
    for status, body in faults:
        coordinator.enqueue_fault(status, f"{body} {coordinator_token}")

    result, triggers = ingest(tmp_path, env, "--submit")

    assert result.code == 1, result.output
    for fragment in fragments:
        assert fragment in result.stderr
    assert "is kept; no job was created" in result.stderr
    assert triggers.read_bytes() == written
    assert coordinator_token not in result.output
    assert coordinator.operations == {}


@pytest.mark.parametrize(
    ("drop", "fragment"),
    [
        ("REACTORCIDE_JOB_ID", "REACTORCIDE_JOB_ID"),
        ("REACTORCIDE_COORDINATOR_URL", "REACTORCIDE_COORDINATOR_URL"),
        ("REACTORCIDE_API_TOKEN", "REACTORCIDE_API_TOKEN"),
    ],
)
def test_submit_without_its_settings_is_a_usage_error(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, drop: str,
    fragment: str,
) -> None:
    env = env_for(coordinator, coordinator_token)
    del env[drop]

    result, triggers = ingest(tmp_path, env, "--submit")

    assert result.code == 2, result.output
    assert fragment in result.stderr
    assert not triggers.exists()
    assert coordinator.requests == []


def test_submit_over_plain_http_needs_the_flag(
    tmp_path: Path, http_coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    http_coordinator.add_job("ingest", "running", job_id=PARENT)
    env = env_for(http_coordinator, coordinator_token)

    refused, triggers = ingest(tmp_path, env, "--submit")
    assert refused.code == 2, refused.output
    assert "--allow-insecure-transport" in refused.stderr
    assert not triggers.exists()
    assert http_coordinator.requests == []

    allowed, _ = ingest(tmp_path, env, "--submit", "--allow-insecure-transport")
    assert allowed.code == 0, allowed.output
    assert len(http_coordinator.requests_to(TRIGGERS_PATH, "POST")) == 1


def test_submit_with_dry_run_is_a_usage_error(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token),
                              "--submit", "--dry-run")
    assert result.code == 2, result.output
    assert "--dry-run" in result.stderr
    assert not triggers.exists()
    assert coordinator.requests == []


def test_nothing_triggered_means_nothing_submitted(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    result, triggers = ingest(tmp_path, env_for(coordinator, coordinator_token), "--submit",
                              text="x = 1\n")
    assert result.code == 0, result.output
    assert "nothing was submitted" in result.stdout
    assert coordinator.requests == []
    assert not triggers.exists()


# --- submit_file ---------------------------------------------------------------------------


def payload(operation_id: str = "op-9") -> bytes:
    jobs = [{"job_name": "a", "depends_on": [], "condition": "all_success", "env": {}}]
    document = {"type": "trigger_job", "operation_id": operation_id, "jobs": jobs}
    return (json.dumps(document, indent=2) + "\n").encode()


def test_submit_file_posts_the_bytes_and_removes_the_file(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    coordinator.add_job("ingest", "running", job_id=PARENT)
    path = tmp_path / "triggers.json"
    path.write_bytes(payload())

    created = submit_file(coordinator.url, coordinator_token, PARENT, str(path))

    assert created == ["op-9-0"]
    [post] = coordinator.requests_to(TRIGGERS_PATH, "POST")
    assert post.body == payload()
    assert post.headers["content-type"] == "application/json"
    assert not path.exists()


def test_submit_file_failure_leaves_the_file_untouched(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    path = tmp_path / "triggers.json"
    path.write_bytes(payload())
    coordinator.enqueue_fault(403, f"no {coordinator_token}")

    with pytest.raises(SubmitError) as caught:
        submit_file(coordinator.url, coordinator_token, PARENT, str(path))

    message = str(caught.value)
    assert message.startswith(f"submitting {path} failed: coordinator at 127.0.0.1:")
    assert "jobs:submit" in message
    assert coordinator_token not in message
    assert path.read_bytes() == payload()


def test_submit_file_gives_up_within_its_budget(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    path = tmp_path / "triggers.json"
    path.write_bytes(payload())
    for _ in range(6):
        coordinator.enqueue_fault(503, "", {"Retry-After": "1"})

    with pytest.raises(SubmitError, match=r"beyond the 1\.5s time budget"):
        submit_file(coordinator.url, coordinator_token, PARENT, str(path), budget_seconds=1.5)
    assert path.read_bytes() == payload()
    assert 1 <= len(coordinator.requests) <= 2


@pytest.mark.parametrize(
    "content", [b"{not json", b"[]", b'{"type": "other", "operation_id": "x", "jobs": []}']
)
def test_submit_file_refuses_what_is_not_a_triggers_document(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str, content: bytes
) -> None:
    path = tmp_path / "triggers.json"
    path.write_bytes(content)
    with pytest.raises(SubmitError, match="not a triggers document"):
        submit_file(coordinator.url, coordinator_token, PARENT, str(path))
    assert coordinator.requests == []
    assert path.read_bytes() == content


def test_submit_file_without_a_file(
    tmp_path: Path, coordinator: FakeCoordinator, coordinator_token: str
) -> None:
    with pytest.raises(SubmitError, match="cannot read"):
        submit_file(coordinator.url, coordinator_token, PARENT, str(tmp_path / "absent.json"))
    assert coordinator.requests == []


@pytest.mark.parametrize(
    ("settings", "fragments"),
    [
        ((None, "t", "j"), ["REACTORCIDE_COORDINATOR_URL", "is not set"]),
        (("https://c", None, None), ["REACTORCIDE_API_TOKEN and REACTORCIDE_JOB_ID", "are"]),
        (("http://c", "t", "j"), ["plain http", "--allow-insecure-transport"]),
        (("https://c", "t k", "j"), ["whitespace"]),
    ],
)
def test_check_target(
    settings: tuple[str | None, str | None, str | None], fragments: list[str]
) -> None:
    with pytest.raises(SubmitError) as caught:
        check_target(*settings)
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_check_target_accepts_a_usable_target() -> None:
    check_target("https://coordinator.example", "tok", "job-1")
    check_target("http://coordinator.example", "tok", "job-1", allow_insecure_transport=True)
