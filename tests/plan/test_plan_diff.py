"""`plan --diff REF`: the plan at a commit against the plan now, on a real git history
of a bundled example; events, formats, loads read from the commit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, Result, run_cli
from tests.support.gitrepo import GitRepo, make_repo

EXAMPLE = (REPO_ROOT / "examples" / "pipelines" / "multi_stage.star").read_text()


def changed_example() -> str:
    """multi_stage.star after a pull request: one check dropped, staging given a region
    and an image, production also for tags, a docs job that always runs."""
    text = EXAMPLE.replace('    ctx.trigger_job("security-scan"),\n', "")
    text = text.replace('env = {"TARGET": "staging"},',
                        'env = {"TARGET": "staging", "REGION": "eu"},\n'
                        '    container_image = "alpine:3.20",')
    text = text.replace('if ctx.branch == "main":',
                        'if ctx.branch == "main" or ctx.ref.startswith("refs/tags/"):')
    return text + '\nctx.trigger_job("docs", depends_on = [build], condition = "always")\n'


@pytest.fixture
def history(tmp_path: Path) -> GitRepo:
    """The example committed on main; the change in the working tree."""
    repo = make_repo(tmp_path / "repo", [{"pipeline.star": EXAMPLE}])
    (repo.path / "pipeline.star").write_text(changed_example())
    return repo


def diff(repo: GitRepo, *args: str) -> Result:
    return run_cli("plan", "--diff", *args, cwd=repo.path)


def test_text_shows_jobs_added_removed_and_changed_field_by_field(history: GitRepo) -> None:
    result = diff(history, "main")
    assert result.code == 0, result.output
    assert result.stdout == (
        "plan at main -> plan now\n"
        "1 added, 1 removed, 2 changed (6 jobs before, 6 after)\n"
        "  + docs  (pipeline.star:33:1)\n"
        '      depends_on: ["build"]\n'
        '      condition: "always"\n'
        "  - security-scan\n"
        "  ~ build\n"
        '      depends_on: ["test", "lint", "security-scan"] -> ["test", "lint"]\n'
        "  ~ deploy-staging\n"
        '      env.REGION: (unset) -> "eu"\n'
        '      container_image: (unset) -> "alpine:3.20"\n'
    )


def test_an_event_matrix_shows_what_each_event_gets(history: GitRepo) -> None:
    result = diff(history, "HEAD", "--events", "push,pull_request_opened,tag_created",
                  "--format", "json")
    assert result.code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["differ"] is True
    by_event = {e["event"]: e for e in doc["events"]}
    assert list(by_event) == ["push", "pull_request_opened", "tag_created"]
    added = {e: [a["job"]["job_name"] for a in by_event[e]["added"]] for e in by_event}
    assert added == {"push": ["docs"], "pull_request_opened": ["docs"],
                     "tag_created": ["deploy-production", "docs"]}
    assert by_event["tag_created"]["jobs_before"] == 5
    build = next(c for c in by_event["push"]["changed"] if c["job_name"] == "build")
    assert build["fields"] == [{"field": "depends_on",
                                "before": ["test", "lint", "security-scan"],
                                "after": ["test", "lint"], "before_set": True,
                                "after_set": True}]


def test_markdown_for_a_pull_request_comment(history: GitRepo) -> None:
    result = diff(history, "main", "--format", "markdown")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "#### Pipeline plan: `main` → this change"
    assert "| removed | `security-scan` | | | |" in lines
    assert ('| changed | `build` | `depends_on` | `["test", "lint", "security-scan"]` | '
            '`["test", "lint"]` |') in lines
    assert '|  |  | `condition` | | `"always"` |' in lines


@pytest.mark.parametrize(("working_tree", "code"), [("changed", 1), ("same", 0)])
def test_exit_code(history: GitRepo, working_tree: str, code: int) -> None:
    if working_tree == "same":
        (history.path / "pipeline.star").write_text(EXAMPLE)
    result = diff(history, "main", "--exit-code")
    assert result.code == code, result.output
    if working_tree == "same":
        assert result.stdout == "plan at main -> plan now\nno change (6 jobs)\n"


def test_loaded_files_are_read_at_the_commit(tmp_path: Path) -> None:
    pipeline = 'load("ci/jobs.star", "jobs")\njobs()\n'
    repo = make_repo(tmp_path / "repo", [{
        "pipeline.star": pipeline,
        "ci/jobs.star": 'def jobs():\n    trigger_job("unit", timeout = 60)\n',
    }])
    (repo.path / "ci" / "jobs.star").write_text(
        'def jobs():\n    trigger_job("unit", timeout = 120)\n    trigger_job("e2e")\n')
    result = diff(repo, "HEAD")
    assert result.code == 0, result.output
    assert "  + e2e  (ci/jobs.star:3:5)\n" in result.stdout
    assert "      timeout: 60 -> 120\n" in result.stdout


def test_a_commit_without_the_pipeline_adds_every_job(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "x"}])
    (repo.path / "pipeline.star").write_text('trigger_job("a")\n')
    result = diff(repo, "HEAD", "--exit-code")
    assert result.code == 1
    assert result.stdout.splitlines()[1] == (
        "1 added, 0 removed, 0 changed (0 jobs before, 1 after); pipeline.star does not "
        "exist at HEAD")


def test_a_failing_side_is_named(history: GitRepo) -> None:
    (history.path / "pipeline.star").write_text('fail("broken")\n')
    result = diff(history, "main")
    assert result.code == 1
    assert result.stderr.startswith("the pipeline now failed:\npipeline.star:1:1: error: ")


USAGE: dict[str, tuple[tuple[str, ...], str]] = {
    "unknown ref with a close match": (("--diff", "mian"), "did you mean 'main'?"),
    "unknown event": (("--diff", "main", "--events", "psuh"), "did you mean 'push'?"),
    "events without --diff": (("--events", "push"), "need --diff REF"),
    "exit code without --diff": (("--exit-code",), "need --diff REF"),
    "a picture of a diff": (("--diff", "main", "--format", "dot"), "text, json or markdown"),
}


@pytest.mark.parametrize("case", USAGE.values(), ids=USAGE.keys())
def test_usage_errors(history: GitRepo, case: tuple[tuple[str, ...], str]) -> None:
    args, needle = case
    result = run_cli("plan", *args, cwd=history.path)
    assert result.code == 2, result.output
    assert needle in result.stderr.splitlines()[0]


def test_the_readme_shows_this_output(history: GitRepo) -> None:
    result = diff(history, "main", "--format", "markdown")
    shown = result.stdout.replace("`main`", "`origin/main`")
    assert shown in (REPO_ROOT / "README.md").read_text()


def test_a_source_directory_below_the_repository_top(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"ci/pipeline.star": 'trigger_job("a")\n',
                                          "pipeline.star": 'trigger_job("top")\n'}])
    (repo.path / "ci" / "pipeline.star").write_text('trigger_job("a")\ntrigger_job("b")\n')
    result = run_cli("plan", "--diff", "HEAD", "--src", "ci", cwd=repo.path)
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[1:3] == [
        "1 added, 0 removed, 0 changed (1 job before, 2 after)",
        "  + b  (ci/pipeline.star:2:1)"]


@pytest.mark.parametrize("changed", [True, False])
def test_an_ingest_for_a_pull_request_logs_the_diff_against_its_base(
        tmp_path: Path, changed: bool) -> None:
    repo = make_repo(tmp_path / "repo", [{"pipeline.star": EXAMPLE}])
    base = repo.head()
    if changed:
        repo.commit({"pipeline.star": changed_example()})
    else:
        repo.commit({"README": "docs only"})
    triggers = tmp_path / "triggers.json"
    result = run_cli("--src", repo.path, "--triggers-file", triggers, env={
        "REACTORCIDE_EVENT_TYPE": "pull_request_opened", "REACTORCIDE_DIFF_BASE": base,
        "REACTORCIDE_PR_NUMBER": "5",
        "REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": repo.head()})
    assert result.code == 0, result.output
    written = [job["job_name"] for job in json.loads(triggers.read_text())["jobs"]]
    if changed:
        assert "docs" in written and "security-scan" not in written  # the head's plan
        assert "the pipeline files differ from the pull request's base" in result.stderr
        assert "pull_request_opened: 1 added, 1 removed, 2 changed" in result.stderr
        assert "  - security-scan\n" in result.stderr
    else:
        assert "security-scan" in written
        assert "differ from the pull request's base" not in result.stderr


# Each scenario of `--events` reads as the coordinator's own event would: a pull request
# or a tag never names a branch, so a `ctx.branch == "main"` deploy stays out of its plan.
SCENARIO_CONTEXT = {
    # event: (branch, tag, ref, pull request number)
    "push": ("main", None, "refs/heads/main", None),
    "tag_created": (None, "v0.0.0", "refs/tags/v0.0.0", None),
    "pull_request_opened": (None, None, "refs/pull/1/head", 1),
    "pull_request_merged": (None, None, "refs/pull/1/head", 1),
}


@pytest.mark.parametrize("event", SCENARIO_CONTEXT)
def test_each_event_scenario_reads_as_that_event(event: str) -> None:
    from engine.plan.scenarios import event_environment
    from engine.run.event import EnvReading, read_event

    # A local shell's branch must not leak into a tag's or a pull request's scenario.
    ctx = read_event(EnvReading(event_environment(event, {"REACTORCIDE_GIT_BRANCH": "main"})))

    branch, tag, ref, number = SCENARIO_CONTEXT[event]
    assert (ctx["event"], ctx["branch"], ctx["tag"], ctx["ref"]) == (event, branch, tag, ref)
    assert (ctx["pr"] or {}).get("number") == number
