"""The bundled example pipelines, run by the real engine against real git repositories.

Each directory under ``cases/`` is one scenario:

``case.json``
    ``description``: what the scenario shows (free text);
    ``pipeline``: the file under ``examples/pipelines/`` to run;
    ``repo``: the repository to build (see ``build_repo``);
    ``env``: extra environment variables for the engine;
    ``coordinator_jobs``: when present, an HTTPS fake coordinator is started holding
    these jobs (``FakeCoordinator.add_job`` keyword arguments) and the engine is pointed
    at it.
``expected.json``
    ``jobs``: the exact ``jobs`` list of the triggers file (``[]``: no file is written);
    ``exit_code``: the engine's exit code (default 0; non-zero: nothing is written);
    ``output_contains``: strings that must appear in the engine's stdout or stderr.

Every run is recorded (``ingest --record``) and the transcript replayed with
``replay --check``, which must find the same result without the repository or the
coordinator.

In ``env`` and ``expected.json``, ``@HEAD@`` and ``@HEAD7@`` stand for the full and the
seven-character SHA of the built repository's HEAD.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import REPO_ROOT, Result, clean_env, run_engine
from tests.support.gitrepo import GitRepo, add_origin, make_repo

CASES_DIR = Path(__file__).resolve().parent / "cases"
EXAMPLES_DIR = REPO_ROOT / "examples" / "pipelines"
CASE_NAMES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.json").is_file())
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.star"))
DEFAULT_JOB_ID = "ingest-job-1"


@dataclass(frozen=True)
class Case:
    """One scenario read from its directory."""

    name: str
    spec: dict[str, Any]
    expected_text: str


def load_case(name: str) -> Case:
    """Read ``case.json`` and the raw text of ``expected.json``."""
    folder = CASES_DIR / name
    spec = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    expected = (folder / "expected.json").read_text(encoding="utf-8")
    return Case(name, spec, expected)


def build_repo(root: Path, spec: dict[str, Any]) -> GitRepo:
    """Build the repository a case describes.

    ``commits`` (list of ``{path: content-or-null}``) are made in order on ``branch``
    (default ``main``). ``origin_main`` (a 1-based commit number) gives the repository a
    bare ``origin`` whose ``main`` is that commit. ``tags`` is a list of ``{"name",
    "at" (commit number, default the last), "message" (set: annotated)}``. ``detached``
    leaves HEAD detached at the last commit.
    """
    commits: list[dict[str, str | None]] = spec["commits"]
    repo = make_repo(root, [], spec.get("branch", "main"))
    shas = [repo.commit(files, message=f"commit {n}") for n, files in enumerate(commits, 1)]
    origin_main = spec.get("origin_main")
    if origin_main is not None:
        add_origin(repo, "main", at=shas[origin_main - 1])
    for tag in spec.get("tags", []):
        at = shas[tag.get("at", len(shas)) - 1]
        repo.tag(tag["name"], message=tag.get("message"), at=at)
    if spec.get("detached", False):
        repo.checkout(shas[-1], detach=True)
    return repo


def substitute(text: str, repo: GitRepo) -> str:
    """Replace the ``@HEAD@`` / ``@HEAD7@`` placeholders with the repository's HEAD."""
    head = repo.head()
    return text.replace("@HEAD@", head).replace("@HEAD7@", head[:7])


def start_coordinator(request: pytest.FixtureRequest, jobs: list[dict[str, Any]]) -> dict[str, str]:
    """Start the fake coordinator with ``jobs``; return the variables that reach it."""
    server: FakeCoordinator = request.getfixturevalue("coordinator")
    return coordinator_env(server, jobs, os.environ["REQUESTS_CA_BUNDLE"])


def coordinator_env(server: FakeCoordinator, jobs: list[dict[str, Any]],
                    ca_bundle: str) -> dict[str, str]:
    """Give ``server`` this ingest job and ``jobs``; return the variables that reach it."""
    # The ingest job itself, so that the default scope (its project) can be resolved.
    server.add_job("ingest", "running", job_id=DEFAULT_JOB_ID)
    for job in jobs:
        server.add_job(**job)
    return {
        "REACTORCIDE_COORDINATOR_URL": server.url,
        "REACTORCIDE_API_TOKEN": server.token,
        "REQUESTS_CA_BUNDLE": ca_bundle,
    }


@dataclass(frozen=True)
class Run:
    """One recorded run of a case: its repository, where it wrote, and what it said."""

    repo: GitRepo
    triggers: Path
    transcript: Path
    result: Result


def run_case(case: Case, root: Path, coordinator: dict[str, str] | None) -> Run:
    """Build the case's repository under ``root`` and run ``ingest --record`` on it.

    ``coordinator`` holds the variables that reach a coordinator holding the case's
    ``coordinator_jobs`` (None when the case has none).
    """
    pipeline = EXAMPLES_DIR / case.spec["pipeline"]
    assert pipeline.is_file(), f"{case.name}: no example {pipeline.name}"
    repo = build_repo(root / "src", case.spec["repo"])
    env = {k: substitute(v, repo) for k, v in case.spec.get("env", {}).items()}
    if coordinator is not None:
        env.update(coordinator)
        env.setdefault("REACTORCIDE_JOB_ID", DEFAULT_JOB_ID)
    triggers = root / "out" / "triggers.json"
    triggers.parent.mkdir()
    transcript = root / "out" / "transcript.json"
    # The file is what is checked here; tests/event's end-to-end runs check submission.
    result = run_engine(
        "ingest", "--no-submit", "--src", repo.path, "--pipeline", pipeline,
        "--triggers-file", triggers, "--record", transcript, env=env,
    )
    return Run(repo, triggers, transcript, result)


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_example_case(case_name: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """The example writes exactly the expected jobs (or fails as expected), and its
    transcript replays to the same result."""
    case = load_case(case_name)
    jobs_on_coordinator = case.spec.get("coordinator_jobs")
    coordinator = None
    if jobs_on_coordinator is not None:
        coordinator = start_coordinator(request, jobs_on_coordinator)
    run = run_case(case, tmp_path, coordinator)
    repo, triggers, result = run.repo, run.triggers, run.result
    expected = json.loads(substitute(case.expected_text, repo))

    replayed = run_engine("replay", "--check", run.transcript)
    assert replayed.code == 0, replayed.output
    if coordinator is not None:
        assert coordinator["REACTORCIDE_API_TOKEN"] not in run.transcript.read_text("utf-8")

    detail = f"{case_name}: exit {result.code}\n{result.output}"
    assert result.code == expected.get("exit_code", 0), detail
    for text in expected.get("output_contains", []):
        assert text in result.output, f"{case_name}: {text!r} not in output\n{result.output}"
    if result.code != 0 or not expected["jobs"]:
        assert not triggers.exists(), detail
        assert expected["jobs"] == [], f"{case_name}: expected jobs but the run wrote none"
        return
    doc = json.loads(triggers.read_text(encoding="utf-8"))
    assert doc["type"] == "trigger_job"
    assert isinstance(doc["operation_id"], str)
    assert doc["jobs"] == expected["jobs"], detail


def test_every_example_has_a_case() -> None:
    """Each bundled example runs in at least one scenario."""
    used = {load_case(name).spec["pipeline"] for name in CASE_NAMES}
    assert {path.name for path in EXAMPLE_FILES} <= used


def test_check_accepts_every_example() -> None:
    """`python -m engine check` finds no error in any bundled example."""
    assert len(EXAMPLE_FILES) >= 10
    result = run_engine("check", *EXAMPLE_FILES)
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
