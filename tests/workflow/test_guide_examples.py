"""The Python examples of the Reactorcide guide ("Writing Pipelines in Reactorcide"), run
unchanged against real repositories.

guide/NN_*.py.txt are the guide's code blocks, copied verbatim in the guide's order.
Most are fragments that assume what the guide shows elsewhere; a case adds only that,
before (`prelude`: the import, a `ctx`, a helper the fragment calls, jobs a fragment
depends on) and after (`epilogue`: the flush a fragment leaves out). The fragment
itself is never edited. Each script runs as `python script.py` would (in a process
forked from a warm interpreter), from a directory outside the project, against a copy
of a repository built once per session (engine.pipeline_tests.repository).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.pipeline_tests.cases import repository_table
from engine.pipeline_tests.repository import Repositories
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import run_script
from tests.support.gitrepo import run_git
from tests.workflow.scripts import load

GUIDE_DIR = Path(__file__).resolve().parent / "guide"
SNIPPETS = {path.name[:2]: path for path in sorted(GUIDE_DIR.glob("*.py.txt"))}
GUIDE_TRIGGERS = Path("/tmp/my-triggers.json")  # hard-coded in the guide's example 18

IMPORT = "from workflow import *\n"
CTX = IMPORT + "ctx = WorkflowContext()\n"
TEST_AND_BUILD = 'trigger_job("test")\ntrigger_job("build")\n'
CTX_TEST_AND_BUILD = 'ctx.trigger_job("test")\nctx.trigger_job("build")\n'
FLUSH = "flush_triggers()\n"
CTX_FLUSH = "ctx.flush_triggers()\n"

BASE = {"README.md": "# shop\n", "src/app.py": "print(1)\n", "web/app.js": "x = 1;\n"}
MAIN = {"commits": [BASE, {"src/app.py": "print(2)\n"}]}
FEATURE = {**MAIN, "branch": "feature/login"}
TAGGED = {**MAIN, "tags": [{"name": "v2.0.0", "message": "Release 2.0.0"}]}
RELEASE = {**MAIN, "branch": "release/2.0"}
PR_PYTHON = {**FEATURE, "origin": {"main": 1}}
PR_EVERYTHING = {
    "branch": "feature/all",
    "commits": [BASE, {"src/app.py": "print(3)\n", "web/cart.ts": "let a = 1;\n",
                       "docs/index.md": "# docs\n"}],
    "origin": {"main": 1},
}
CRITICAL = {"commits": [BASE, {"auth/login.py": "def login(): ...\n"}]}
HOTFIX_CRITICAL = {**CRITICAL, "branch": "hotfix/login"}
NOT_A_CHECKOUT: dict[str, Any] = {}

DEPLOY_FULL: dict[str, Any] = {
    "job_name": "deploy",
    "depends_on": ["test", "build"],
    "condition": "all_success",
    "env": {"TARGET": "production", "VERSION": "1.0.0"},
    "source_type": "git",
    "source_url": "https://github.com/user/repo.git",
    "source_ref": "main",
    "ci_source_type": "git",
    "ci_source_url": "https://github.com/user/ci-code.git",
    "ci_source_ref": "main",
    "container_image": "reactorcide/runner:latest",
    "job_command": "python /job/ci/scripts/deploy.py",
    "priority": 10,
    "timeout": 1800,
}


@dataclass(frozen=True)
class GuideCase:
    """One run of one guide example; `jobs` are names, or whole jobs where it matters."""

    snippet: str
    jobs: list[str] | list[dict[str, Any]]
    label: str = ""
    prelude: str = ""
    epilogue: str = ""
    repo: dict[str, Any] = field(default_factory=lambda: MAIN)
    coordinator: list[dict[str, Any]] | None = None
    env: dict[str, str] = field(default_factory=dict)
    exit_code: int = 0
    output: tuple[str, ...] = ()
    triggers_file: Path | None = None

    @property
    def id(self) -> str:
        name = SNIPPETS[self.snippet].name.removesuffix(".py.txt")
        return f"{name}-{self.label}" if self.label else name


CASES = [
    GuideCase("00", ["deploy"]),
    GuideCase("00", [], label="feature-branch", repo=FEATURE),
    GuideCase("01", ["deploy"]),
    GuideCase("01", [], label="feature-branch", repo=FEATURE),
    GuideCase("02", ["test", "build", "deploy-staging"], prelude=IMPORT + TEST_AND_BUILD,
              epilogue=FLUSH),
    GuideCase("03", ["test", "lint"], prelude=IMPORT),
    GuideCase("04", ["python-tests"], prelude=IMPORT, epilogue=FLUSH, repo=PR_PYTHON),
    GuideCase("05", [{"job_name": "release", "depends_on": [], "condition": "all_success",
                      "env": {"TAG": "v2.0.0"}}],
              prelude=IMPORT, epilogue=FLUSH, repo=TAGGED,
              output=("Building @HEAD@ on branch main",)),
    GuideCase("06", ["deploy-production"], prelude=IMPORT, epilogue=FLUSH, coordinator=[]),
    GuideCase("06", [], label="running", prelude=IMPORT, epilogue=FLUSH,
              coordinator=[{"name": "deploy-production", "status": "running"}],
              output=("Deploy already in progress, skipping",)),
    GuideCase("07", ["deploy"], prelude=IMPORT, epilogue=FLUSH,
              coordinator=[{"name": "test", "status": "completed", "exit_code": 0,
                            "completed_at": "2025-01-01T10:00:00Z"}]),
    GuideCase("07", [], label="failed", prelude=IMPORT, epilogue=FLUSH,
              coordinator=[{"name": "test", "status": "failed", "exit_code": 2,
                            "completed_at": "2025-01-01T10:00:00Z"}]),
    GuideCase("08", [], prelude=IMPORT,
              output=("📋 Next job to run: deploy (reason: tests passed)",)),
    GuideCase("09", ["test", "lint"], prelude=IMPORT,
              output=("Branch: main", "Commit: @HEAD@")),
    GuideCase("10", ["release-validation"], prelude=IMPORT, repo=RELEASE),
    GuideCase("10", [], label="main", prelude=IMPORT, output=("Running on main branch",)),
    GuideCase("11", [{"job_name": "deploy-production", "depends_on": [],
                      "condition": "all_success", "env": {"COMMIT": "@HEAD@"}}],
              prelude=IMPORT + "def run_tests():\n    print('tests ran')\n",
              output=("tests ran",)),
    GuideCase("12", ["test", "lint", "build"], prelude=IMPORT),
    GuideCase("13", ["python-tests", "js-tests", "build-docs"], prelude=IMPORT,
              repo=PR_EVERYTHING),
    GuideCase("14", ["deploy-production"], prelude=IMPORT, coordinator=[]),
    GuideCase("15", ["test", "lint", "security-scan", "build", "deploy-staging",
                     "deploy-production"], prelude=IMPORT),
    GuideCase("16", ["build-release", "sign-artifacts", "publish-release"], prelude=IMPORT,
              repo=TAGGED, output=("Release tag detected: v2.0.0",)),
    GuideCase("17", ["test-py3.9-ubuntu", "test-py3.10-ubuntu", "test-py3.11-ubuntu",
                     "test-py3.11-macos", "build"], prelude=IMPORT),
    GuideCase("18", ["test"], prelude=IMPORT, triggers_file=GUIDE_TRIGGERS),
    GuideCase("19", ["test", "deploy"], prelude=IMPORT),
    GuideCase("20", [{"job_name": "test", "depends_on": [], "condition": "all_success",
                      "env": {}},
                     {"job_name": "build", "depends_on": [], "condition": "all_success",
                      "env": {}},
                     DEPLOY_FULL],
              prelude=CTX + CTX_TEST_AND_BUILD, epilogue=CTX_FLUSH),
    # The health check cannot be reached (the proxy refuses): the block raises, and
    # the guide's promise holds: nothing is flushed.
    GuideCase("21", [], prelude=IMPORT, env={"HTTPS_PROXY": "@CLOSED@",
                                             "HTTP_PROXY": "@CLOSED@"},
              exit_code=1, output=("requests.exceptions.",)),
    GuideCase("22", ["critical-tests", "deploy-production"], prelude=IMPORT,
              repo=HOTFIX_CRITICAL),
    GuideCase("22", ["full-test-suite", "security-scan", "deploy-production"],
              label="critical-on-main", prelude=IMPORT, repo=CRITICAL),
    GuideCase("22", ["test", "deploy-staging"], label="normal-on-main", prelude=IMPORT),
    # The "avoid" half triggers "test" again into the same file: refused at its flush,
    # at the line that created it; the file keeps what the first half wrote.
    GuideCase("23", ["test"], prelude=IMPORT, exit_code=1,
              output=('@SCRIPT@:8:1: error: job "test" is already in the triggers file',
                      "nothing was written")),
    GuideCase("24", ["python-tests", "deploy"],
              prelude=IMPORT + "def run_full_test_suite():\n    print('suite ran')\n"),
    GuideCase("25", ["test-python-3.11-ubuntu", "deploy-production-us-east", "job1", "job2"],
              prelude=CTX, epilogue=CTX_FLUSH),
    GuideCase("26", ["integration-tests", "deploy", "very-long-job"], prelude=CTX,
              epilogue=CTX_FLUSH),
    GuideCase("27", ["deploy-production", "test"], prelude=CTX, epilogue=CTX_FLUSH),
    GuideCase("27", ["deploy-staging", "test"], label="feature-branch", prelude=CTX,
              epilogue=CTX_FLUSH, repo=FEATURE),
    GuideCase("28", ["test"], prelude=CTX, epilogue=CTX_FLUSH),
    # Outside a checkout the guarded call degrades as the guide shows, and the
    # unguarded one crashes the script before anything is written.
    GuideCase("28", [], label="not-a-checkout", prelude=CTX, epilogue=CTX_FLUSH,
              repo=NOT_A_CHECKOUT, exit_code=1,
              output=("Could not analyze changes: changed_files: ",
                      "is not a git repository", "workflow.errors.WorkflowError")),
    GuideCase("29", ["deploy-production"], prelude=IMPORT, repo=RELEASE),
    GuideCase("29", [], label="feature-branch", prelude=IMPORT, repo=FEATURE),
    GuideCase("30", ["test", "build", "deploy"], prelude=CTX + CTX_TEST_AND_BUILD,
              epilogue=CTX_FLUSH),
]


def test_every_guide_example_is_run() -> None:
    assert len(SNIPPETS) == 31
    assert {case.snippet for case in CASES} == set(SNIPPETS)


def _repository(root: Path, spec: dict[str, Any], repositories: Repositories) -> str | None:
    """A copy of the repository `spec` (a `[repository]` table) describes at `root`, and
    its HEAD; an empty spec is a copied source without git."""
    if not spec:
        root.mkdir(parents=True)
        (root / "README.md").write_text("# a copied source, no git\n", encoding="utf-8")
        return None
    shutil.move(repositories.checkout(repository_table(spec)), root)
    return run_git(root, "rev-parse", "HEAD")


def _fill(text: str, head: str | None, script: Path, closed: str) -> str:
    text = text.replace("@SCRIPT@", str(script)).replace("@CLOSED@", closed)
    return text.replace("@HEAD@", head) if head is not None else text


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def guide_triggers_file() -> Iterator[Path]:
    """Example 18 writes to a fixed path: keep whatever was there before."""
    before = GUIDE_TRIGGERS.read_bytes() if GUIDE_TRIGGERS.exists() else None
    GUIDE_TRIGGERS.unlink(missing_ok=True)
    yield GUIDE_TRIGGERS
    GUIDE_TRIGGERS.unlink(missing_ok=True)
    if before is not None:
        GUIDE_TRIGGERS.write_bytes(before)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_guide_example(case: GuideCase, tmp_path: Path, request: pytest.FixtureRequest,
                       repositories: Repositories) -> None:
    src = tmp_path / "src"
    repo = _repository(src, case.repo, repositories)
    script = tmp_path / "script.py"
    snippet = SNIPPETS[case.snippet].read_text(encoding="utf-8")
    script.write_text(case.prelude + snippet + case.epilogue, encoding="utf-8")
    triggers = tmp_path / "out" / "triggers.json"
    if case.triggers_file is not None:
        triggers = request.getfixturevalue("guide_triggers_file")
    closed = f"http://127.0.0.1:{_closed_port()}"
    env = {"REACTORCIDE_CODE_DIR": str(src), "REACTORCIDE_TRIGGERS_FILE": str(triggers)}
    env.update({k: _fill(v, repo, script, closed) for k, v in case.env.items()})
    if case.coordinator is not None:
        server: FakeCoordinator = request.getfixturevalue("coordinator")
        server.add_job("ingest", "running", job_id="ingest-job-1")
        for job in case.coordinator:
            server.add_job(**job)
        env.update({"REACTORCIDE_COORDINATOR_URL": server.url,
                    "REACTORCIDE_API_TOKEN": server.token,
                    "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]})

    result = run_script(script, cwd=tmp_path, env=env)

    detail = f"{case.id}: exit {result.code}\n{result.output}"
    assert result.code == case.exit_code, detail
    for text in case.output:
        assert _fill(text, repo, script, closed) in result.output, detail
    if not case.jobs:
        assert not triggers.exists(), detail
        return
    jobs = load(triggers)["jobs"]
    if isinstance(case.jobs[0], str):
        assert [job["job_name"] for job in jobs] == case.jobs, detail
    else:
        expected = json.loads(_fill(json.dumps(case.jobs), repo, script, closed))
        assert jobs == expected, detail
