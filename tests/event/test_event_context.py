"""`ctx` for every event kind the coordinator sends, from its real variables.

The environments below are the ones the coordinator stores for an eval job (push, tag,
same-repository and fork pull requests, merged and closed pull requests), plus a local
run with no event type. Each is run through the real engine (`plan`) in a real checkout.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.run.event import EnvReading, apply_flags, change_base, read_event
from tests.support.engine_run import run_cli

SHA = "a" * 40
BASE_SHA = "b" * 40
UPSTREAM = "https://github.com/acme/shop.git"
FORK = "https://x-access-token:s3cr3t@github.com/mallory/shop.git"

COMMON = {"REACTORCIDE_CI": "true", "REACTORCIDE_PROVIDER": "github",
          "REACTORCIDE_JOB_KIND": "eval", "REACTORCIDE_REPO": "acme/shop",
          "REACTORCIDE_SHA": SHA, "REACTORCIDE_JOB_ID": "eval-1",
          "REACTORCIDE_CI_SOURCE_URL": UPSTREAM}


def pr_env(event: str, *, fork: bool = False) -> dict[str, str]:
    env = {**COMMON, "REACTORCIDE_EVENT_TYPE": event, "REACTORCIDE_BRANCH": "main",
           "REACTORCIDE_SOURCE_URL": FORK if fork and event != "pull_request_merged"
           else UPSTREAM,
           "REACTORCIDE_HEAD_ACTOR": "mallory" if fork else "alice",
           "REACTORCIDE_PR_NUMBER": "12", "REACTORCIDE_PR_REF": "feature/x",
           "REACTORCIDE_HEAD_REF": "feature/x", "REACTORCIDE_PR_BASE_REF": "main",
           "REACTORCIDE_BASE_REF": "main", "REACTORCIDE_DIFF_BASE": BASE_SHA,
           "REACTORCIDE_HEAD_URL": FORK if fork else UPSTREAM,
           "REACTORCIDE_BASE_URL": UPSTREAM}
    if fork:
        env["REACTORCIDE_IS_FORK_PR"] = "true"
    return env


def pr_expect(event: str, *, fork: bool = False) -> dict[str, Any]:
    stripped_fork = "https://github.com/mallory/shop.git"
    return {
        "event": event, "branch": None, "tag": None, "commit": SHA,
        "ref": "refs/pull/12/head", "repo": "acme/shop", "provider": "github",
        "source_url": stripped_fork if fork and event != "pull_request_merged" else UPSTREAM,
        "pr": {"number": 12, "head_ref": "feature/x", "base_ref": "main",
               "base_sha": BASE_SHA, "head_url": stripped_fork if fork else UPSTREAM,
               "base_url": UPSTREAM, "is_fork": fork,
               "actor": "mallory" if fork else "alice"},
    }


CASES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("push", {**COMMON, "REACTORCIDE_EVENT_TYPE": "push", "REACTORCIDE_BRANCH": "main",
              "REACTORCIDE_SOURCE_URL": UPSTREAM, "REACTORCIDE_HEAD_ACTOR": ""},
     {"event": "push", "branch": "main", "tag": None, "commit": SHA,
      "ref": "refs/heads/main", "pr": None, "source_url": UPSTREAM}),
    ("tag", {**COMMON, "REACTORCIDE_EVENT_TYPE": "tag_created",
             "REACTORCIDE_BRANCH": "v1.2.0", "REACTORCIDE_SOURCE_URL": UPSTREAM},
     {"event": "tag_created", "branch": None, "tag": "v1.2.0", "ref": "refs/tags/v1.2.0",
      "pr": None}),
    ("pr_opened", pr_env("pull_request_opened"), pr_expect("pull_request_opened")),
    ("pr_updated", pr_env("pull_request_updated"), pr_expect("pull_request_updated")),
    ("pr_closed", pr_env("pull_request_closed"), pr_expect("pull_request_closed")),
    ("fork_pr", pr_env("pull_request_opened", fork=True),
     pr_expect("pull_request_opened", fork=True)),
    ("merged_fork_pr", pr_env("pull_request_merged", fork=True),
     pr_expect("pull_request_merged", fork=True)),
    ("local_branch_only", {"REACTORCIDE_BRANCH": "develop"},
     {"event": None, "branch": "develop", "ref": "refs/heads/develop", "pr": None}),
    ("git_branch_wins_on_a_pr", {**pr_env("pull_request_opened"),
                                  "REACTORCIDE_GIT_BRANCH": "feature/x"},
     {"branch": "feature/x", "ref": "refs/heads/feature/x"}),
]


@pytest.mark.parametrize(("env", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_read_event(env: dict[str, str], expected: dict[str, Any]) -> None:
    context = read_event(EnvReading(env))
    for key, value in expected.items():
        assert context[key] == value, key


def test_the_credential_in_a_fork_url_never_reaches_ctx() -> None:
    context = read_event(EnvReading(pr_env("pull_request_opened", fork=True)))
    assert "s3cr3t" not in json.dumps(context)


@pytest.mark.parametrize("bad", ["pull_request", "PUSH", "release"])
def test_an_unknown_event_type_is_a_usage_error_naming_it(tmp_path: Path, bad: str) -> None:
    (tmp_path / "pipeline.star").write_text('trigger_job("t")\n')
    result = run_cli("plan", "--src", tmp_path,
                        env={"REACTORCIDE_EVENT_TYPE": bad})
    assert result.code == 2
    assert f"REACTORCIDE_EVENT_TYPE is {bad!r}" in result.stderr


@pytest.mark.parametrize(("name", "value"), [
    ("RC_WF_VARS_JSON", "{not json"), ("RC_WF_VARS_JSON", "[1]"),
    ("REACTORCIDE_PR_NUMBER", "12a"),
])
def test_malformed_values_are_usage_errors_naming_the_variable(
        tmp_path: Path, name: str, value: str) -> None:
    (tmp_path / "pipeline.star").write_text('trigger_job("t")\n')
    env = {"REACTORCIDE_EVENT_TYPE": "pull_request_opened", name: value}
    result = run_cli("plan", "--src", tmp_path, env=env)
    assert result.code == 2
    assert name in result.stderr


def test_vars_come_from_the_inline_json_else_the_file(tmp_path: Path) -> None:
    file = tmp_path / "vars.json"
    file.write_text('{"from": "file", "n": 2}')
    assert read_event(EnvReading({"RC_WF_VARS_FILE": str(file)}))["vars"] == {
        "from": "file", "n": 2}
    both = {"RC_WF_VARS_FILE": str(file), "RC_WF_VARS_JSON": '{"from": "json"}'}
    assert read_event(EnvReading(both))["vars"] == {"from": "json"}
    missing = {"RC_WF_VARS_FILE": str(tmp_path / "absent.json")}
    assert read_event(EnvReading(missing))["vars"] == {}


@pytest.mark.parametrize("source", ["inline", "file"])
def test_var_flags_add_to_the_workflow_variables_wherever_they_come_from(
        tmp_path: Path, source: str) -> None:
    file = tmp_path / "vars.json"
    file.write_text('{"kept": 1, "changed": "old"}')
    env = ({"RC_WF_VARS_JSON": file.read_text()} if source == "inline"
           else {"RC_WF_VARS_FILE": str(file)})

    flagged = apply_flags(env, {"--var": ['changed="new"', "added=[1]"]})

    assert read_event(EnvReading(flagged))["vars"] == {
        "kept": 1, "changed": "new", "added": [1]}


@pytest.mark.parametrize(("pr", "base"), [
    (None, "HEAD^"),
    ({"base_sha": BASE_SHA, "base_ref": "main"}, f"{BASE_SHA}...HEAD"),
    ({"base_sha": None, "base_ref": "main"}, "origin/main...HEAD"),
    ({"base_sha": None, "base_ref": None}, "HEAD^"),
])
def test_change_base(pr: dict[str, Any] | None, base: str) -> None:
    assert change_base(pr) == base


def test_flags_write_the_coordinator_variables() -> None:
    env = apply_flags({"REACTORCIDE_EVENT_TYPE": "push"}, {
        "--event": "pull_request_opened", "--pr": "5", "--base": "main",
        "--head-ref": "topic", "--fork": True, "--var": ["n=1", 's="x"'],
    })
    context = read_event(EnvReading(env))
    assert context["event"] == "pull_request_opened"
    assert context["pr"]["number"] == 5
    assert context["pr"]["base_ref"] == "main"
    assert context["pr"]["head_ref"] == "topic"
    assert context["pr"]["is_fork"] is True
    assert context["vars"] == {"n": 1, "s": "x"}
    tag = read_event(EnvReading(apply_flags({}, {"--tag": "v2"})))
    assert (tag["event"], tag["tag"], tag["branch"]) == ("tag_created", "v2", None)


BAD_FLAGS = {
    # flags: the words of the refusal, which name the flag the user typed
    "pr not a number": ({"--pr": "abc"}, "--pr takes a pull request number, not 'abc'"),
    "pr not ascii digits": ({"--pr": "\u0662"}, "--pr takes a pull request number"),
    "unknown event": ({"--event": "deploy"}, "--event must be one of push, "),
    "tag with another event": ({"--tag": "v1", "--event": "push"},
                               "--tag names a tag event; it cannot be combined with --event"),
    "var without a key": ({"--var": ["=1"]}, "--var takes KEY=JSON, not '=1'"),
    "var not JSON": ({"--var": ["k=text"]}, "--var k: 'text' is not JSON"),
}


@pytest.mark.parametrize(("flags", "words"), BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_flags_are_usage_errors_naming_the_flag(flags: dict[str, Any], words: str) -> None:
    from engine.core.diagnostics import UsageError

    with pytest.raises(UsageError) as info:
        apply_flags({}, flags)
    assert words in str(info.value)


# -- through the engine, in a real checkout ------------------------------------------

PRINT_CTX = """\
print(json.encode({
    "event": ctx.event, "branch": ctx.branch, "tag": ctx.tag, "commit": ctx.commit,
    "ref": ctx.ref, "repo": ctx.repo, "provider": ctx.provider,
    "source_url": ctx.source_url, "workflow_id": ctx.workflow_id, "vars": ctx.vars,
    "pr": None if ctx.pr == None else {
        "number": ctx.pr.number, "head_ref": ctx.pr.head_ref, "base_ref": ctx.pr.base_ref,
        "base_sha": ctx.pr.base_sha, "head_url": ctx.pr.head_url,
        "base_url": ctx.pr.base_url, "is_fork": ctx.pr.is_fork, "actor": ctx.pr.actor},
    "git_branch": git_info()["branch"],
    "changed": changed_files(),
}))
"""


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """main with one commit; a detached head two commits past it (a PR's head)."""
    repo = tmp_path_factory.mktemp("checkout")
    _git(repo, "init", "-q", "-b", "main")
    ident = ("-c", "user.name=t", "-c", "user.email=t@example.com")
    (repo / "pipeline.star").write_text(PRINT_CTX)
    _git(repo, "add", ".")
    _git(repo, *ident, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    for name in ("one.txt", "two.txt"):
        (repo / name).write_text(name)
        _git(repo, "add", name)
        _git(repo, *ident, "commit", "-qm", name)
    _git(repo, "checkout", "-q", "--detach")
    return repo, base


@pytest.mark.parametrize(("env", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_ctx_in_the_sandbox(checkout: tuple[Path, str], env: dict[str, str],
                            expected: dict[str, Any]) -> None:
    repo, base = checkout
    env = dict(env)
    if "REACTORCIDE_DIFF_BASE" in env:
        env["REACTORCIDE_DIFF_BASE"] = base
    result = run_cli("plan", "--src", repo, env=env)
    assert result.code == 0, result.stderr
    seen = json.loads(result.stderr.splitlines()[0])
    for key, value in expected.items():
        if key == "pr" and value is not None:
            value = {**value, "base_sha": base}
        assert seen[key] == value, key
    # git_info() on the detached checkout follows the same rule as ctx.branch.
    assert seen["git_branch"] == seen["branch"]
    if seen["pr"] is not None:
        # A pull request compares from the merge base: both of its commits count.
        assert seen["changed"] == ["one.txt", "two.txt"]
    else:
        assert seen["changed"] == ["two.txt"]


def test_changed_flag_replaces_the_git_answer(checkout: tuple[Path, str]) -> None:
    repo, _ = checkout
    result = run_cli("plan", "--src", repo, "--pr", "3", "--base", "main",
                        "--changed", "docs/a.md", "--changed", "src/b.py")
    assert result.code == 0, result.stderr
    seen = json.loads(result.stderr.splitlines()[0])
    assert seen["changed"] == ["docs/a.md", "src/b.py"]
    assert seen["pr"]["number"] == 3
    assert seen["event"] is None


def test_python_twin_reads_the_same_facts(monkeypatch: pytest.MonkeyPatch,
                                          checkout: tuple[Path, str]) -> None:
    from workflow import WorkflowContext

    repo, base = checkout
    for key in list(__import__("os").environ):
        if key.startswith(("REACTORCIDE_", "RC_WF_")):
            monkeypatch.delenv(key)
    for key, value in {**pr_env("pull_request_opened", fork=True),
                       "REACTORCIDE_DIFF_BASE": base,
                       "RC_WF_VARS_JSON": '{"k": [1]}'}.items():
        monkeypatch.setenv(key, value)
    ctx = WorkflowContext(src_dir=repo)
    assert ctx.event == "pull_request_opened"
    assert ctx.branch is None
    assert ctx.tag is None
    assert ctx.ref == "refs/pull/12/head"
    assert ctx.pr is not None and ctx.pr.number == 12 and ctx.pr.is_fork is True
    assert ctx.pr.base_sha == base
    assert ctx.repo == "acme/shop"
    assert ctx.source_url == "https://github.com/mallory/shop.git"
    assert ctx.vars == {"k": [1]}
    assert ctx.changed_files() == ["one.txt", "two.txt"]
    assert ctx.git_info()["branch"] is None
