"""A coordinator that trickles its answer cannot hold a run past its wall clock."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.security.conftest import GRACE_SECONDS, TOKEN
from tests.security.hostile_server import TrickleServer
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import run_cli

PIPELINE = 'print(is_job_running("build"))\ntrigger_job("after")\n'


@pytest.mark.parametrize("trickle_body", [False, True], ids=["headers", "body"])
def test_a_trickling_coordinator_is_cut_at_the_run_deadline(
    tmp_path: Path, tls_cert: tuple[Path, Path], strict_policy: Path,
    monkeypatch: pytest.MonkeyPatch, trickle_body: bool,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(PIPELINE, encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    with TrickleServer(tls_cert, interval=0.2, trickle_body=trickle_body) as server:
        env = {"REACTORCIDE_COORDINATOR_URL": server.url, "REACTORCIDE_API_TOKEN": TOKEN,
               "REACTORCIDE_JOB_ID": "parent", "REQUESTS_CA_BUNDLE": str(tls_cert[0]),
               "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        started = time.monotonic()
        result = run_cli("ingest", "--src", src, "--triggers-file", triggers,
                            "--policy", strict_policy, env=env, timeout=60)
        elapsed = time.monotonic() - started
    assert result.code == 1, result.output
    assert "time budget" in result.stderr or "wall-clock limit" in result.stderr
    assert elapsed < 2 + GRACE_SECONDS
    assert not triggers.exists()
    assert TOKEN not in result.output
    assert server.connections >= 1


def test_a_connection_made_after_the_deadline_passed_is_cut_at_once(
    tls_cert: tuple[Path, Path],
) -> None:
    # On a loaded machine the deadline can pass before the first connection exists (the
    # HTTP client still loading): that connection must be cut as soon as it is made, or
    # a trickling server holds the run for as long as it likes.
    import threading

    import requests

    from engine.capabilities.coordinator.deadline import SocketCutter, mount

    cutter = SocketCutter()
    session = requests.Session()
    mount(session, cutter)
    outcome: list[BaseException | None] = []

    def ask(url: str) -> None:
        try:
            session.get(url, verify=str(tls_cert[0]), timeout=(5.0, 5.0)).close()
            outcome.append(None)
        except requests.exceptions.RequestException as exc:
            outcome.append(exc)

    with TrickleServer(tls_cert, interval=0.2) as server, cutter.cut_at(time.monotonic()):
        while not cutter.cut_happened:
            time.sleep(0.01)
        worker = threading.Thread(target=ask, args=(server.url,), daemon=True)
        worker.start()
        worker.join(30)
        # Asked while the server still trickles: once it stops, any request ends.
        hung = worker.is_alive()
    assert not hung, "the connection outlived the deadline"
    assert isinstance(outcome[0], requests.exceptions.RequestException)


def test_a_coordinator_echoing_the_token_and_terminal_codes_is_scrubbed(
        tmp_path: Path, coordinator: FakeCoordinator) -> None:
    coordinator.add_job("ingest", "running", job_id="parent")
    coordinator.add_job("build", "completed", job_id=f"echo-{TOKEN}",
                        completed_at="2025-01-01T01:00:00Z", started_at="2025-01-01T00:59:00Z",
                        exit_code=0, workflow_id="wf\x1b[2J\rforged")
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text('print(get_job_result("build"))\n', encoding="utf-8")
    coordinator.enqueue_fault(500, f"boom {TOKEN} \x1b[31m")
    env = {"REACTORCIDE_COORDINATOR_URL": coordinator.url, "REACTORCIDE_API_TOKEN": TOKEN,
           "REACTORCIDE_JOB_ID": "parent", "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]}

    result = run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "t.json",
                        env=env)

    assert result.code == 0, result.output
    assert "echo-[redacted]" in result.stderr
    assert TOKEN not in result.output
    assert "\x1b" not in result.output and "\r" not in result.output
