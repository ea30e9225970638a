"""The questions a script asks: git (`changed_files`, `git_info`), the context properties,
and the coordinator (`is_job_running`, `get_job_result`), on real repositories and a real
HTTPS fake coordinator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepoFactory
from tests.support.coordinator_server import FakeCoordinator
from tests.support.gitrepo import GitRepo
from workflow import WorkflowContext, WorkflowError

# --- git ---------------------------------------------------------------------------------

FIRST = {"app.py": "v1\n", "sub/notes.txt": "a\n", "README.md": "# r\n"}
SECOND = {"app.py": "v2\n", "sub/notes.txt": "b\n"}


@pytest.fixture
def repos(git_repo_factory: GitRepoFactory, environment: pytest.MonkeyPatch
          ) -> tuple[GitRepo, GitRepo]:
    """The source checkout (`REACTORCIDE_CODE_DIR`) and another repository beside it."""
    source = git_repo_factory([FIRST, SECOND], name="source")
    other = git_repo_factory([{"lib.py": "1\n"}, {"lib.py": "2\n", "new.txt": "n\n"}],
                             name="other")
    environment.setenv("REACTORCIDE_CODE_DIR", str(source.path))
    environment.chdir(source.path.parent)
    return source, other


# How base_dir is given -> whose changes come back. Relative paths are relative to the
# working directory (the repositories' parent here).
BASE_DIRS: list[tuple[str, str, list[str]]] = [
    ("default: the source directory", "none", ["app.py", "sub/notes.txt"]),
    ("a path object", "other-path", ["lib.py", "new.txt"]),
    ("a string", "other-str", ["lib.py", "new.txt"]),
    ("relative to the working directory", "other-relative", ["lib.py", "new.txt"]),
    ("a subdirectory: paths stay repository-relative", "source-sub",
     ["app.py", "sub/notes.txt"]),
]


def _base_dir(form: str, source: GitRepo, other: GitRepo) -> Any:
    return {
        "none": None,
        "other-path": other.path,
        "other-str": str(other.path),
        "other-relative": other.path.name,
        "source-sub": source.path / "sub",
    }[form]


@pytest.mark.parametrize(("form", "expected"), [row[1:] for row in BASE_DIRS],
                         ids=[row[0] for row in BASE_DIRS])
def test_changed_files_base_dir(repos: tuple[GitRepo, GitRepo], form: str,
                                expected: list[str]) -> None:
    source, other = repos
    ctx = WorkflowContext()
    assert ctx.changed_files(base_dir=_base_dir(form, source, other)) == expected
    assert ctx.changed_files("HEAD^", "HEAD", _base_dir(form, source, other)) == expected


def test_git_info_of_the_source_and_of_another_repository(
    repos: tuple[GitRepo, GitRepo]
) -> None:
    source, other = repos
    other.tag("v1.0.0")
    ctx = WorkflowContext()
    assert ctx.git_info() == {"branch": "main", "commit": source.head(),
                              "short_commit": source.head()[:7], "tag": None,
                              "remote_url": None}
    assert ctx.git_info(other.path)["tag"] == "v1.0.0"
    assert ctx.git_info(base_dir=str(other.path))["commit"] == other.head()


def test_the_root_commit_counts_every_file_as_added(
    git_repo_factory: GitRepoFactory, environment: pytest.MonkeyPatch
) -> None:
    repo = git_repo_factory([FIRST])
    environment.setenv("REACTORCIDE_CODE_DIR", str(repo.path))
    assert WorkflowContext().changed_files() == ["README.md", "app.py", "sub/notes.txt"]


GIT_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("missing ref", {"from_ref": "origin/main"},
     "changed_files: unknown git ref 'origin/main'"),
    ("option smuggled as a ref", {"from_ref": "--output=/tmp/x"},
     "changed_files: '--output=/tmp/x' is not a valid git ref"),
    ("base_dir that does not exist", {"base_dir": "no-such-dir"},
     "changed_files: base_dir 'no-such-dir' is not a directory"),
]


@pytest.mark.parametrize(("kwargs", "message"), [row[1:] for row in GIT_ERRORS],
                         ids=[row[0] for row in GIT_ERRORS])
def test_git_errors_say_what_is_wrong(repos: tuple[GitRepo, GitRepo], kwargs: dict[str, Any],
                                      message: str) -> None:
    with pytest.raises(WorkflowError, match="^" + message.replace("(", r"\(")):
        WorkflowContext().changed_files(**kwargs)


def test_a_missing_source_directory(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    environment.setenv("REACTORCIDE_CODE_DIR", str(tmp_path / "absent"))
    ctx = WorkflowContext()
    assert (ctx.branch, ctx.commit, ctx.ref) == (None, None, None)
    with pytest.raises(WorkflowError, match=r"git_info: the source directory .* is not a dir"):
        ctx.git_info()


# --- context properties ---------------------------------------------------------------

HEAD = "@HEAD@"
CONTEXT_VALUES: list[tuple[str, str, dict[str, str], tuple[str | None, ...]]] = [
    ("from the checkout", "branch", {},
     (None, "feature/x", HEAD, "refs/heads/feature/x")),
    ("documented variables", "branch",
     {"REACTORCIDE_JOB_ID": "job-9", "REACTORCIDE_GIT_BRANCH": "main",
      "REACTORCIDE_GIT_COMMIT": "c" * 40, "REACTORCIDE_GIT_REF": "refs/pull/4/head"},
     ("job-9", "main", "c" * 40, "refs/pull/4/head")),
    ("variables the worker sets", "branch",
     {"REACTORCIDE_BRANCH": "dev", "REACTORCIDE_SHA": "d" * 40},
     (None, "dev", "d" * 40, "refs/heads/dev")),
    ("documented variable wins", "branch",
     {"REACTORCIDE_GIT_BRANCH": "main", "REACTORCIDE_BRANCH": "dev"},
     (None, "main", HEAD, "refs/heads/main")),
    ("detached at a tag", "detached", {}, (None, None, HEAD, "refs/tags/v3.1.0")),
    ("not a checkout", "plain", {}, (None, None, None, None)),
]


@pytest.mark.parametrize(("layout", "env", "expected"), [row[1:] for row in CONTEXT_VALUES],
                         ids=[row[0] for row in CONTEXT_VALUES])
def test_context_properties(git_repo_factory: GitRepoFactory, environment: pytest.MonkeyPatch,
                            tmp_path: Path, layout: str, env: dict[str, str],
                            expected: tuple[str | None, ...]) -> None:
    head: str | None = None
    if layout == "plain":
        src = tmp_path / "copied"
        src.mkdir()
    else:
        repo = git_repo_factory([FIRST, SECOND], branch="feature/x")
        repo.tag("v3.1.0")
        if layout == "detached":
            repo.checkout(repo.head(), detach=True)
        src, head = repo.path, repo.head()
    environment.setenv("REACTORCIDE_CODE_DIR", str(src))
    for key, value in env.items():
        environment.setenv(key, value)
    ctx = WorkflowContext()
    values = (ctx.job_id, ctx.branch, ctx.commit, ctx.ref)
    assert values == tuple(head if v == HEAD else v for v in expected)


# --- coordinator --------------------------------------------------------------------------


@pytest.fixture
def pointed(coordinator: FakeCoordinator, environment: pytest.MonkeyPatch) -> FakeCoordinator:
    """The HTTPS fake coordinator, configured the way the worker configures an ingest job."""
    environment.setenv("REACTORCIDE_COORDINATOR_URL", coordinator.url)
    environment.setenv("REACTORCIDE_API_TOKEN", coordinator.token)
    return coordinator


DONE = "2025-01-02T10:00:00Z"
LATER = "2025-01-03T10:00:00Z"
STATE_QUESTIONS: list[tuple[str, list[dict[str, Any]], str, Any]] = [
    ("running", [{"name": "deploy", "status": "running"}], "is_job_running", True),
    ("queued", [{"name": "deploy", "status": "queued"}], "is_job_running", True),
    ("only finished runs", [{"name": "deploy", "status": "completed", "exit_code": 0}],
     "is_job_running", False),
    ("another job running", [{"name": "deploy-staging", "status": "running"}],
     "is_job_running", False),
    ("no result", [], "get_job_result", None),
    ("latest finished run", [
        {"name": "deploy", "status": "completed", "exit_code": 0, "job_id": "old",
         "completed_at": DONE},
        {"name": "deploy", "status": "failed", "exit_code": 3, "job_id": "new",
         "completed_at": LATER},
        {"name": "deploy", "status": "running", "job_id": "now"},
    ], "get_job_result", {"job_id": "new", "name": "deploy", "status": "failed",
                          "exit_code": 3, "started_at": None, "completed_at": LATER}),
]


@pytest.mark.parametrize(("jobs", "question", "answer"), [row[1:] for row in STATE_QUESTIONS],
                         ids=[row[0] for row in STATE_QUESTIONS])
def test_job_state_from_the_coordinator(pointed: FakeCoordinator, tmp_path: Path,
                                        jobs: list[dict[str, Any]], question: str,
                                        answer: Any) -> None:
    for job in jobs:
        pointed.add_job(**job)
    ctx = WorkflowContext()
    assert getattr(ctx, question)("deploy") == answer
    requests = pointed.requests_to("/api/v1/jobs")
    assert requests
    assert {r.headers["authorization"] for r in requests} == {f"Bearer {pointed.token}"}


COORDINATOR_ERRORS: list[tuple[str, dict[str, str | None], str]] = [
    ("no URL", {"REACTORCIDE_COORDINATOR_URL": None},
     "the coordinator is not configured: REACTORCIDE_COORDINATOR_URL is not set"),
    ("no token", {"REACTORCIDE_API_TOKEN": None},
     "the coordinator is not configured: REACTORCIDE_API_TOKEN is not set"),
    ("wrong token", {"REACTORCIDE_API_TOKEN": "tok-wrong-456"},
     "refused the API token (401 Unauthorized)"),
]


@pytest.mark.parametrize("question", ["is_job_running", "get_job_result"])
@pytest.mark.parametrize(("env", "message"), [row[1:] for row in COORDINATOR_ERRORS],
                         ids=[row[0] for row in COORDINATOR_ERRORS])
def test_coordinator_failures_are_errors_never_a_guess(
    pointed: FakeCoordinator, environment: pytest.MonkeyPatch, question: str,
    env: dict[str, str | None], message: str,
) -> None:
    for key, value in env.items():
        if value is None:
            environment.delenv(key)
        else:
            environment.setenv(key, value)
    with pytest.raises(WorkflowError) as raised:
        getattr(WorkflowContext(), question)("deploy")
    assert str(raised.value).startswith(f"{question}: ")
    assert message in str(raised.value)
    assert "tok-" not in str(raised.value)


@pytest.mark.parametrize(("allow", "running"), [(False, None), (True, True)],
                         ids=["refused", "allowed by the argument"])
def test_plain_http_needs_an_explicit_opt_in(
    http_coordinator: FakeCoordinator, environment: pytest.MonkeyPatch, allow: bool,
    running: bool | None,
) -> None:
    http_coordinator.add_job("deploy", "running")
    environment.setenv("REACTORCIDE_COORDINATOR_URL", http_coordinator.url)
    environment.setenv("REACTORCIDE_API_TOKEN", http_coordinator.token)
    ctx = WorkflowContext(allow_insecure_transport=allow)
    if running is None:
        with pytest.raises(WorkflowError, match="plain http, which is refused"):
            ctx.is_job_running("deploy")
        assert http_coordinator.requests == []
    else:
        assert ctx.is_job_running("deploy") is running


# --- log_next_job ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "line"), [
    (("deploy",), "📋 Next job to run: deploy"),
    (("deploy", "tests passed"), "📋 Next job to run: deploy (reason: tests passed)"),
])
def test_log_next_job(capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
                      line: str) -> None:
    WorkflowContext().log_next_job(*args)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line + "\n")


@pytest.mark.parametrize(("setting", "expected"), [
    (None, None),
    ('"error"', None),
    ('"all_changed"', ["README.md", "app.py", "sub/notes.txt"]),
], ids=["default", "error", "all_changed"])
def test_missing_history_follows_the_policy(
    repos: tuple[GitRepo, GitRepo], environment: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], setting: str | None, expected: list[str] | None,
) -> None:
    if setting is not None:
        policy = tmp_path / "policy.toml"
        policy.write_text(f"[git]\non_missing_history = {setting}\n", encoding="utf-8")
        environment.setenv("REACTORCIDE_PIPELINE_POLICY", str(policy))
    ctx = WorkflowContext()
    if expected is None:
        with pytest.raises(WorkflowError, match=r"unknown git ref 'origin/main'"):
            ctx.changed_files("origin/main")
        return
    assert ctx.changed_files("origin/main") == expected
    warning = capsys.readouterr().err
    assert warning.startswith("warning: ")
    assert "origin/main" in warning
    assert 'on_missing_history = "all_changed"' in warning
    assert warning.count("\n") == 1


@pytest.mark.parametrize(("job_id", "running"), [
    (None, True),
    ("ingest-1", False),
], ids=["no job id: every project", "job id: the ingest job's project"])
def test_questions_are_scoped_like_the_engines(
    pointed: FakeCoordinator, environment: pytest.MonkeyPatch, job_id: str | None,
    running: bool,
) -> None:
    pointed.add_job("ingest", "running", job_id="ingest-1", project_id="p-mine")
    pointed.add_job("deploy", "running", project_id="p-other")
    if job_id is not None:
        environment.setenv("REACTORCIDE_JOB_ID", job_id)
    assert WorkflowContext().is_job_running("deploy") is running
    listed = pointed.requests_to("/api/v1/jobs")
    assert {tuple(r.query.get("project_id", [])) for r in listed} == (
        {()} if job_id is None else {("p-mine",)})
