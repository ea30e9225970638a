"""The bundled example pipelines against real git repositories, and their Python twins.

Each file under ``cases/`` is an `engine test` case whose ``[repository]`` table builds
a real repository (docs/pipeline-tests.md): the example must trigger exactly the jobs
it lists (or fail as it says), with git asked in that repository and the coordinator's
answers from its ``[coordinator]`` table. The example's Python twin
(``examples/python/``) then runs on a copy of the same repository, with a real HTTPS
coordinator holding the same jobs where the case has any: both succeed or fail
together and write byte-identical triggers files (the operation id names the
decision, not the program that made it).

A few cases also run end to end through the command line in a fresh process
(``ingest --record``, an HTTPS coordinator, then ``replay --check``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.pipeline_tests.repository import Repositories
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import REPO_ROOT, clean_env, run_cli, run_engine, run_script
from tests.support.example_cases import (
    CASE_FILES,
    PYTHON_EXAMPLES,
    STARLARK_EXAMPLES,
    case_id,
    checkout,
    load,
    serve,
)

EXAMPLE_FILES = sorted(STARLARK_EXAMPLES.glob("*.star"))
CASE_DOCUMENT = REPO_ROOT / "tests" / "support" / "case_document.py"


def star_document(path: Path, tmp_path: Path) -> bytes:
    """The triggers document the case at `path` produces (empty: none), `engine test`
    having passed it."""
    run = run_script(CASE_DOCUMENT, path, cwd=tmp_path)
    assert run.code == 0, run.output
    verdict = json.loads(run.stdout)
    assert verdict["problem"] is None, f"{verdict['problem']}\n{verdict['detail']}"
    return str(verdict["document"] or "").encode("utf-8")


@pytest.mark.parametrize("path", CASE_FILES, ids=case_id)
def test_example_and_its_python_twin(path: Path, tmp_path: Path, repositories: Repositories,
                                      request: pytest.FixtureRequest) -> None:
    star = star_document(path, tmp_path)

    case = load(path)
    env = {**case.env, "REACTORCIDE_CODE_DIR": str(checkout(repositories, case)),
           "REACTORCIDE_TRIGGERS_FILE": str(tmp_path / "python" / "triggers.json")}
    server: FakeCoordinator | None = None
    if case.coordinator is not None:
        server = request.getfixturevalue("coordinator")
        env.update(serve(server, case, request.getfixturevalue("tls_cert")[0]))
    twin = PYTHON_EXAMPLES / f"{Path(case.pipeline).stem}.py"
    python = run_script(twin, cwd=tmp_path, env=env)

    detail = f"{path.name}\n--- python\n{python.output}"
    failed = case.expect.error is not None
    assert python.code == (1 if failed else 0), detail
    python_file = tmp_path / "python" / "triggers.json"
    if server is not None and server.triggers_received:
        # With a coordinator at hand the twin submits, as upstream's flush does: on 201
        # the file is gone, and what it sent is what it wrote.
        assert not python_file.exists()
        assert [s.job_id for s in server.triggers_received] == [case.env["REACTORCIDE_JOB_ID"]]
        python_file.parent.mkdir(exist_ok=True)
        python_file.write_bytes(server.triggers_received[0].body)
    assert python_file.exists() == bool(star), detail
    if star:
        assert python_file.read_bytes() == star, detail


def test_every_example_has_a_case() -> None:
    """Each bundled example runs in at least one end-to-end case."""
    used = {Path(load(path).pipeline).name for path in CASE_FILES}
    assert {path.name for path in EXAMPLE_FILES} <= used


def test_every_example_has_a_python_twin() -> None:
    starlark = {path.stem for path in EXAMPLE_FILES}
    python = {path.stem for path in PYTHON_EXAMPLES.glob("*.py")}
    assert len(starlark) >= 10
    assert starlark == python


# The command line in a fresh process, a real coordinator where the case has one.
END_TO_END = ["guarded_deploy_main_not_running", "guarded_deploy_main_running",
              "tag_release_annotated_tag_detached", "complex_parallel_without_origin"]


@pytest.mark.parametrize("name", END_TO_END)
def test_example_end_to_end(name: str, tmp_path: Path, repositories: Repositories,
                            request: pytest.FixtureRequest) -> None:
    """`ingest --record` writes exactly the case's jobs (or fails as it says, writing
    nothing), and the transcript replays to the same result without the repository or
    the coordinator."""
    case_path = Path(__file__).parent / "cases" / f"{name}.toml"
    case = load(case_path)
    env = dict(case.env)
    server: FakeCoordinator | None = None
    if case.coordinator is not None:
        server = request.getfixturevalue("coordinator")
        env.update(serve(server, case, request.getfixturevalue("tls_cert")[0]))
    triggers, transcript = tmp_path / "triggers.json", tmp_path / "transcript.json"

    result = run_engine("ingest", "--no-submit", "--src", checkout(repositories, case),
                        "--pipeline", case.pipeline, "--triggers-file", triggers,
                        "--record", transcript, env=env)

    replayed = run_cli("replay", "--check", transcript)
    assert replayed.code == 0, replayed.output
    if server is not None:
        assert server.token not in transcript.read_text("utf-8")
    detail = f"{name}: exit {result.code}\n{result.output}"
    for text in case.expect.output:
        assert text in result.output, detail
    if case.expect.error is not None:
        assert result.code == 1, detail
        assert case.expect.error in result.stderr, detail
        assert "nothing was written" in result.stderr, detail
        assert not triggers.exists(), detail
        return
    assert result.code == 0, detail
    assert case.expect.jobs is not None
    if not case.expect.jobs:
        assert "the pipeline triggered no jobs" in result.output, detail
        assert not triggers.exists(), detail
        return
    doc = json.loads(triggers.read_text(encoding="utf-8"))
    assert doc["type"] == "trigger_job"
    assert isinstance(doc["operation_id"], str)
    assert [job["job_name"] for job in doc["jobs"]] == [
        job["job_name"] for job in case.expect.jobs]
    assert triggers.read_bytes() == star_document(case_path, tmp_path), detail


def test_check_accepts_every_example() -> None:
    """`python -m engine check` finds no error in any bundled example."""
    assert len(EXAMPLE_FILES) >= 10
    result = run_cli("check", *EXAMPLE_FILES)
    assert result.code == 0, result.output
    assert f"checked {len(EXAMPLE_FILES)} files: 0 errors, 0 warnings" in result.stdout


def test_demo_runs_and_prints_the_plan() -> None:
    """`python -m examples.demo` exits 0 and shows the plan and the triggers file."""
    proc = subprocess.run(
        [sys.executable, "-m", "examples.demo"],
        cwd=REPO_ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "stage 1" in proc.stdout
    assert '"type": "trigger_job"' in proc.stdout
