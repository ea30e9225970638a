"""`ingest --record` and `replay`: a transcript alone reproduces the run, byte for byte.

Each scenario records a real ingest (real git, the HTTPS fake coordinator where asked),
then removes the checkout and the policy files and replays: `replay --triggers-file`
must write the bytes the ingest wrote, and `replay --check` must find no drift. Altered
transcripts must drift with a readable diff; broken ones are usage errors; and no
transcript may hold a secret.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from engine.common.secret import Secret
from engine.transcripts.scrub import Scrubber
from engine.transcripts.transcript import FORMAT, REDACTED
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli
from tests.support.gitrepo import GitRepo, make_repo

BASE: dict[str, str | None] = {"README.md": "# shop\n", "src/app.py": "print(1)\n"}
SECOND = {"src/app.py": "print(2)\n", "docs/guide.md": "# guide\n"}


@dataclass(frozen=True)
class Scenario:
    """Files of a checkout (committed, the pipeline included), what the run sees, and how
    it ends. `coordinator` lists jobs on the fake coordinator (None: none configured)."""

    pipeline: str
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    existing: dict[str, Any] | None = None
    policy: str | None = None
    coordinator: list[dict[str, Any]] | None = None
    args: tuple[str, ...] = ()
    code: int = 0


SCENARIOS: dict[str, Scenario] = {
    "git questions": Scenario(
        'files = changed_files()\n'
        'for c in changes():\n'
        '    print(c["path"], c["status"])\n'
        'info = git_info()\n'
        'if changes_include("src/**"):\n'
        '    t = trigger_job("test", env = {"N": str(len(files)), "C": info["commit"]})\n'
        '    trigger_job("build", depends_on = [t], env = {"B": ctx.branch or "-"})\n',
    ),
    "load()": Scenario(
        'load("lib/helpers.star", "job")\nload("//ci/common.star", "IMAGE")\n'
        'job("lint", IMAGE)\njob("test", IMAGE)\n',
        files={"lib/helpers.star": "def job(name, image):\n"
                                   "    return trigger_job(name, container_image = image)\n",
               "ci/common.star": 'IMAGE = "python:3.12"\n'},
    ),
    "appends to an existing file": Scenario(
        'trigger_job("new", depends_on = ["old"])\n',
        existing={"type": "trigger_job", "operation_id": "earlier",
                  "jobs": [{"job_name": "old", "depends_on": [], "condition": "all_success",
                            "env": {}}]},
    ),
    "depends on a job the existing file lacks": Scenario(
        'trigger_job("new", depends_on = ["absent"])\n',
        existing={"type": "trigger_job", "operation_id": "earlier", "jobs": []},
        code=1,
    ),
    "fail()": Scenario('trigger_job("a")\nfail("stop here")\n', code=1),
    "a git error is an answer": Scenario('changed_files("origin/main...HEAD")\n', code=1),
    "missing history, failing open": Scenario(
        'trigger_job("n", env = {"N": str(len(changed_files("origin/main", "HEAD")))})\n',
        policy='[git]\non_missing_history = "all_changed"\n',
    ),
    "policy disables a builtin": Scenario(
        'trigger_job("a")\nprint("x")\n', policy='[builtins]\ndisabled = ["print"]\n', code=1,
    ),
    "no jobs": Scenario('print("nothing to do")\n'),
    "dry run": Scenario('trigger_job("a")\n', args=("--dry-run",)),
    "coordinator answers": Scenario(
        'if not is_job_running("deploy"):\n'
        '    last = get_job_result("test", scope = "workflow")\n'
        '    trigger_job("deploy", env = {"LAST": last["status"] if last else "none"})\n',
        env={"RC_WF_ID": "wf-1"},
        coordinator=[{"name": "test", "status": "failed", "exit_code": 1,
                      "workflow_id": "wf-1", "completed_at": "2025-01-01T00:00:00Z"}],
    ),
    "coordinator not configured": Scenario('is_job_running("deploy")\n', code=1),
}


@dataclass
class Recorded:
    """One recorded ingest: where things are, and what it printed."""

    root: Path
    src: Path
    triggers: Path
    transcript: Path
    result: Result


def record(root: Path, scenario: Scenario, coordinator: FakeCoordinator | None) -> Recorded:
    """Build the checkout and run `ingest --record` in it."""
    src = root / "src"
    repo: GitRepo = make_repo(src, [BASE, {**SECOND, "pipeline.star": scenario.pipeline,
                                           **scenario.files}])
    assert repo.head()
    triggers = root / "triggers.json"
    if scenario.existing is not None:
        triggers.write_text(json.dumps(scenario.existing), encoding="utf-8")
    env = {"REACTORCIDE_JOB_ID": "ingest-1", **scenario.env}
    if coordinator is not None:
        env.update(REACTORCIDE_COORDINATOR_URL=coordinator.url,
                   REACTORCIDE_API_TOKEN=coordinator.token)
        env["REQUESTS_CA_BUNDLE"] = os.environ["REQUESTS_CA_BUNDLE"]
    policy: tuple[str, ...] = ()
    if scenario.policy is not None:
        (root / "policy.toml").write_text(scenario.policy, encoding="utf-8")
        policy = ("--policy", str(root / "policy.toml"))
    transcript = root / "run.transcript.json"
    result = run_cli("ingest", "--no-submit", "--src", src, "--triggers-file", triggers,
                        "--record", transcript, *policy, *scenario.args, env=env)
    return Recorded(root, src, triggers, transcript, result)


def coordinator_for(request: pytest.FixtureRequest, scenario: Scenario) -> FakeCoordinator | None:
    if scenario.coordinator is None:
        return None
    server: FakeCoordinator = request.getfixturevalue("coordinator")
    server.add_job("ingest", "running", job_id="ingest-1", workflow_id="wf-1")
    for job in scenario.coordinator:
        server.add_job(**job)
    return server


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_replay_reproduces_the_run(tmp_path: Path, scenario: Scenario,
                                   request: pytest.FixtureRequest) -> None:
    server = coordinator_for(request, scenario)
    run = record(tmp_path, scenario, server)
    assert run.result.code == scenario.code, run.result.output
    written = run.triggers.read_bytes() if run.triggers.exists() else None
    requests_made = len(server.requests) if server else 0
    shutil.rmtree(run.src)  # no checkout, no policy file: the transcript alone
    (tmp_path / "policy.toml").unlink(missing_ok=True)

    checked = run_cli("replay", "--check", run.transcript)
    out = tmp_path / "replayed.json"
    again = run_cli("replay", run.transcript, "--triggers-file", out)

    assert checked.code == 0, checked.output
    assert "the replay matches the recorded run" in checked.stdout
    assert again.code == scenario.code, again.output
    if scenario.code:
        first = run.result.stderr.splitlines()[0]
        assert again.stderr.splitlines()[0] == first
        assert not out.exists()
    elif "--dry-run" in scenario.args:
        assert written is None
        assert json.loads(out.read_text("utf-8"))["jobs"][0]["job_name"] == "a"
    elif written is None:
        assert not out.exists()
        assert "triggered no jobs" in again.stderr
    else:
        assert out.read_bytes() == written
    if server is not None:
        assert len(server.requests) == requests_made  # the replay asked no one


def test_replay_without_a_target_prints_the_document(tmp_path: Path) -> None:
    run = record(tmp_path, SCENARIOS["git questions"], None)
    replayed = run_cli("replay", run.transcript)
    assert replayed.code == 0, replayed.output
    assert replayed.stdout.encode("utf-8") == run.triggers.read_bytes()


def test_the_transcript_holds_what_the_run_read(tmp_path: Path) -> None:
    run = record(tmp_path, SCENARIOS["load()"], None)
    data = json.loads(run.transcript.read_text("utf-8"))

    assert data["format"] == FORMAT and data["version"] == 1
    assert data["engine_version"]
    src = str(run.src)
    assert sorted(data["sources"]) == sorted([f"{src}/pipeline.star",
                                              f"{src}/lib/helpers.star",
                                              f"{src}/ci/common.star"])
    assert data["environment"]["REACTORCIDE_JOB_ID"] == "ingest-1"
    assert data["environment"]["REACTORCIDE_API_TOKEN"] is None
    assert [(a["capability"], a["method"]) for a in data["answers"]] == [
        ("source", "read"), ("source", "read")]
    assert data["policy"]["values"]["limits"]["wall_seconds"] == 10.0
    assert json.loads(data["result"]["triggers"]) == json.loads(run.triggers.read_text())


def test_the_transcript_names_the_policy_the_environment_gave(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", [{"pipeline.star": 'trigger_job("a")\n'}])
    policy = tmp_path / "org.toml"
    policy.write_text("[limits]\nmax_jobs = 5\n", encoding="utf-8")
    transcript = tmp_path / "run.json"
    result = run_cli("ingest", "--no-submit", "--src", repo.path, "--triggers-file",
                     tmp_path / "t.json", "--record", transcript,
                     env={"REACTORCIDE_PIPELINE_POLICY": str(policy)})
    assert result.code == 0, result.output
    data = json.loads(transcript.read_text("utf-8"))
    assert data["environment"]["REACTORCIDE_PIPELINE_POLICY"] == str(policy)
    assert data["policy"]["values"]["limits"]["max_jobs"] == 5


# --- drift ---------------------------------------------------------------------------


def _answer(data: dict[str, Any], method: str) -> dict[str, Any]:
    return next(a for a in data["answers"] if a["method"] == method)


def _set_commit(data: dict[str, Any]) -> None:
    _answer(data, "info")["value"]["commit"] = "f" * 40


def _drop_changes(data: dict[str, Any]) -> None:
    data["answers"].remove(_answer(data, "changes"))


def _rename_branch(data: dict[str, Any]) -> None:
    data["environment"]["REACTORCIDE_GIT_BRANCH"] = "release"


def _edit_pipeline(data: dict[str, Any]) -> None:
    name = data["run"]["pipeline"]
    data["sources"][name] = data["sources"][name].replace('"build"', '"package"')


def _older_engine_wrote_more(data: dict[str, Any]) -> None:
    data["result"]["triggers"] = data["result"]["triggers"].replace('"test"', '"tests"', 1)


DRIFTS: dict[str, tuple[Callable[[dict[str, Any]], None], str, str]] = {
    # mutation, a line the diff removes, a line it adds
    "a git answer changed": (_set_commit, '"C": "', f'"C": "{"f" * 40}"'),
    "an answer is missing": (_drop_changes, '"job_name": "test"', "holds no answer"),
    "the environment changed": (_rename_branch, '"B": "main"', '"B": "release"'),
    "the pipeline changed": (_edit_pipeline, '"job_name": "build"', '"job_name": "package"'),
    "the recorded result differs": (_older_engine_wrote_more, '"job_name": "tests"',
                                    '"job_name": "test"'),
}


@pytest.mark.parametrize("drift", DRIFTS.values(), ids=DRIFTS.keys())
def test_check_shows_drift_as_a_diff(tmp_path: Path, drift: tuple[
        Callable[[dict[str, Any]], None], str, str]) -> None:
    mutate, removed, added = drift
    run = record(tmp_path, SCENARIOS["git questions"], None)
    data = json.loads(run.transcript.read_text("utf-8"))
    mutate(data)
    run.transcript.write_text(json.dumps(data), encoding="utf-8")

    checked = run_cli("replay", "--check", run.transcript)

    assert checked.code == 1, checked.output
    lines = checked.stdout.splitlines()
    assert lines[0] == f"{run.transcript}: the replay differs from the recorded run"
    assert lines[1].startswith("--- recorded (engine ")
    assert lines[2].startswith("+++ replayed (engine ")
    assert any(line.startswith("-") and removed in line for line in lines[3:]), checked.stdout
    assert any(line.startswith("+") and added in line for line in lines[3:]), checked.stdout


BROKEN: dict[str, tuple[str, str]] = {
    "not JSON": ("{nope", "not a readable transcript"),
    "not a transcript": ('{"type": "trigger_job", "jobs": []}', "not a transcript"),
    "newer version": (json.dumps({"format": FORMAT, "version": 99}), "version 99"),
    "missing key": (json.dumps({"format": FORMAT, "version": 1}), 'lacks "engine_version"'),
}


@pytest.mark.parametrize(("text", "message"), BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_transcript_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(text, encoding="utf-8")
    result = run_cli("replay", "--check", path)
    assert result.code == 2, result.output
    assert result.stderr.startswith(f"{path}: error: ")
    assert message in result.stderr


def _no_value(data: dict[str, Any]) -> None:
    del data["answers"][0]["value"]


def _unknown_setting(data: dict[str, Any]) -> None:
    data["policy"]["values"]["limits"]["max_fun"] = 1


def _wrong_setting(data: dict[str, Any]) -> None:
    data["policy"]["values"]["limits"]["wall_seconds"] = "ten"


def _lost_source(data: dict[str, Any]) -> None:
    del data["sources"][_answer(data, "read")["value"]["name"]]


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "an answer without value or error": (_no_value, "answers[0] is malformed"),
    "a setting this engine does not know": (_unknown_setting, "unknown key limits.max_fun"),
    "a setting of the wrong type": (_wrong_setting, "limits.wall_seconds must be"),
    "a loaded file's text is missing": (_lost_source, "does not hold the text of"),
}


@pytest.mark.parametrize(("mutate", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_transcript_is_a_usage_error(
        tmp_path: Path, mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    run = record(tmp_path, SCENARIOS["load()"], None)
    data = json.loads(run.transcript.read_text("utf-8"))
    mutate(data)
    run.transcript.write_text(json.dumps(data), encoding="utf-8")
    result = run_cli("replay", run.transcript)
    assert result.code == 2, result.output
    assert result.stderr.startswith(f"{run.transcript}: error: ")
    assert message in result.stderr


def test_record_into_a_missing_directory_is_refused_before_running(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "pipeline.star").write_text('trigger_job("a")\n')
    result = run_cli("ingest", "--src", tmp_path / "src", "--triggers-file",
                        tmp_path / "t.json", "--record", tmp_path / "nowhere" / "r.json",
                        env={"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "a" * 40})
    assert result.code == 2, result.output
    assert not (tmp_path / "t.json").exists()


# --- no secrets ----------------------------------------------------------------------


SECRET_RUNS = {
    # how the coordinator is reached, and whether it echoes the token in a refusal
    "answers recorded": (False, False),
    "the coordinator echoes the token": (False, True),
    "credentials in the coordinator URL": (True, False),
}


@pytest.mark.parametrize(("in_url", "echo"), SECRET_RUNS.values(), ids=SECRET_RUNS.keys())
def test_no_secret_reaches_a_transcript(tmp_path: Path, coordinator: FakeCoordinator,
                                        in_url: bool, echo: bool) -> None:
    token = coordinator.token
    coordinator.add_job("ingest", "running", job_id="ingest-1")
    if echo:
        coordinator.enqueue_fault(401, f"token {token} refused; Authorization: Bearer {token}")
    src = tmp_path / "src"
    repo = make_repo(src, [BASE, {**SECOND, "pipeline.star":
                                  'print(git_info()["remote_url"])\n'
                                  'print(is_job_running("deploy"))\n'
                                  'trigger_job("a")\n'}])
    repo.git("remote", "add", "origin", f"https://bob:s3cret-pw@example.com/{token}.git")
    url = coordinator.url.replace("https://", f"https://alice:{token}@") if in_url \
        else coordinator.url
    transcript = tmp_path / "t.json"

    result = run_cli(
        "ingest", "--no-submit", "--src", src, "--triggers-file", tmp_path / "triggers.json",
        "--record", transcript,
        env={"REACTORCIDE_JOB_ID": "ingest-1", "REACTORCIDE_API_TOKEN": token,
             "REACTORCIDE_COORDINATOR_URL": url,
             "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]},
    )

    assert result.code == (1 if in_url or echo else 0), result.output
    text = transcript.read_text("utf-8")
    data = json.loads(text)
    assert [a["method"] for a in data["answers"]] == ["info", "is_job_running"]
    for secret in (token, quote(token, safe=""), "s3cret-pw", "alice"):
        assert secret not in text, secret
    assert data["environment"]["REACTORCIDE_API_TOKEN"] == REDACTED
    assert data["environment"]["REACTORCIDE_COORDINATOR_URL"] == coordinator.url
    assert data["output"][0] == f"https://example.com/{REDACTED}.git"
    assert run_cli("replay", "--check", transcript).code == 0


@pytest.mark.parametrize(("token", "warned"), [
    ("lint", True),  # a token that happens to be a word of the pipeline
    ("a-long-random-token-0123456789", False),
], ids=["token in the sources", "token nowhere"])
def test_a_token_found_in_the_sources_is_redacted_with_a_warning(
        tmp_path: Path, token: str, warned: bool) -> None:
    # The transcript never holds the token; when redacting it changes the sources, the
    # author is told why that transcript cannot replay exactly.
    src = tmp_path / "src"
    make_repo(src, [{"pipeline.star": 'trigger_job("lint")\n'}])
    transcript = tmp_path / "t.json"
    result = run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "triggers.json",
                        "--record", transcript, env={"REACTORCIDE_API_TOKEN": token})
    assert result.code == 0, result.output
    assert (f"{transcript}: warning: the API token's text occurs" in result.stderr) == warned
    assert token not in transcript.read_text("utf-8")
    assert run_cli("replay", "--check", transcript).code == (1 if warned else 0)


SCRUBBED = [
    # text, with the token removed, with URL credentials removed too
    ("plain text", "plain text", "plain text"),
    ("the token tok en+/1 here", f"the token {REDACTED} here", f"the token {REDACTED} here"),
    ("quoted tok%20en%2B%2F1 here", f"quoted {REDACTED} here", f"quoted {REDACTED} here"),
    ("plus form tok+en%2B%2F1 here", f"plus form {REDACTED} here", f"plus form {REDACTED} here"),
    ("see https://u:p@host/x now", "see https://u:p@host/x now", "see https://host/x now"),
    ("ssh://git:pw@host/x", "ssh://git:pw@host/x", "ssh://git@host/x"),
    ("https://tok+en%2B%2F1@h/", f"https://{REDACTED}@h/", "https://h/"),
]


@pytest.mark.parametrize(("text", "secret_only", "everything"), SCRUBBED,
                         ids=[text for text, _, _ in SCRUBBED])
def test_scrubber(text: str, secret_only: str, everything: str) -> None:
    scrub = Scrubber(Secret("tok en+/1"))
    assert scrub.secret(text) == secret_only
    assert scrub.text(text) == everything
    assert scrub.deep({text: [text]}, urls=False) == {scrub.secret(text): [scrub.secret(text)]}
