"""The end-to-end example cases (tests/examples/cases): `engine test` cases whose
`[repository]` table builds a real git repository, and the same inputs given to the
real command line, a real coordinator and the Python twins.

Each case's `[coordinator]` table (the answers `engine test` gives in memory) becomes
jobs on a `FakeCoordinator`, so that a run through HTTPS sees the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.pipeline_tests.cases import Case, read_case
from engine.pipeline_tests.repository import Repositories
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import REPO_ROOT

CASES_DIR = REPO_ROOT / "tests" / "examples" / "cases"
CASE_FILES = sorted(CASES_DIR.glob("*.toml"))
STARLARK_EXAMPLES = REPO_ROOT / "examples" / "pipelines"
PYTHON_EXAMPLES = REPO_ROOT / "examples" / "python"


def case_id(path: Path) -> str:
    """A case's name in test ids: its file name without `.toml`."""
    return path.stem


def load(path: Path) -> Case:
    """The case in `path`, read and checked by the engine."""
    return read_case(str(path))


def coordinator_jobs(case: Case) -> list[dict[str, Any]]:
    """`FakeCoordinator.add_job` arguments for the case's `[coordinator]` answers: its
    running jobs, and each result as a finished job with the defaults `engine test`
    gives (job id `NAME-1`, exit code 0)."""
    assert case.coordinator is not None and case.coordinator["error"] is None
    jobs: list[dict[str, Any]] = [{"name": name, "status": "running"}
                                  for name in case.coordinator["running"]]
    for name, result in case.coordinator["results"].items():
        fields = {"job_id": f"{name}-1", "status": "completed", "exit_code": 0, **result}
        jobs.append({"name": name, **fields})
    return jobs


def serve(server: FakeCoordinator, case: Case, ca_bundle: Path) -> dict[str, str]:
    """Give `server` the case's jobs and its ingest job (so that the default scope
    resolves); return the variables that point a run at it."""
    server.add_job("ingest", "running", job_id=case.env["REACTORCIDE_JOB_ID"])
    for job in coordinator_jobs(case):
        server.add_job(**job)
    return {"REACTORCIDE_COORDINATOR_URL": server.url,
            "REACTORCIDE_API_TOKEN": server.token,
            "REQUESTS_CA_BUNDLE": str(ca_bundle)}


def checkout(repositories: Repositories, case: Case) -> Path:
    """A fresh copy of the case's repository."""
    assert case.repository is not None, f"{case.path} has no [repository] table"
    return Path(repositories.checkout(case.repository))
