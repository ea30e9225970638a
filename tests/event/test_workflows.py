"""Named workflows: the `workflows` document form, one graph per workflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.coordinator_payload import check
from tests.support.engine_run import Result, run_cli

NAMED = """\
workflow("release", vars = {"channel": "stable", "n": 1})
workflow("docs")
test = trigger_job("test", job_command = "make test")
build = trigger_job("build", job_command = "make build", workflow = "release")
trigger_job("publish", job_command = "make publish", workflow = "release",
            depends_on = [build])
"""


def ingest(tmp_path: Path, text: str, *args: str) -> tuple[Result, Path]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text)
    out = tmp_path / "triggers.json"
    return run_cli("ingest", "--no-submit", "--src", src, "--triggers-file", out,
                      *args), out


def test_named_workflows_use_the_workflows_form(tmp_path: Path) -> None:
    result, out = ingest(tmp_path, NAMED)
    assert result.code == 0, result.output
    doc = json.loads(out.read_text())
    assert list(doc) == ["type", "trigger_type", "operation_id", "workflows"]
    default, release = doc["workflows"]  # "docs" has no jobs: no batch
    assert list(default) == ["jobs"]
    assert [j["job_name"] for j in default["jobs"]] == ["test"]
    assert release["name"] == "release"
    assert release["vars"] == {"channel": "stable", "n": 1}
    assert [j["job_name"] for j in release["jobs"]] == ["build", "publish"]
    for batch in doc["workflows"]:  # authority fields stay empty
        assert not {"ci_origin", "execution_profile", "worker_class", "ci_repository"} & set(
            batch)
    assert [j["job_name"] for j in check(doc)] == ["test", "build", "publish"]


def test_only_the_default_workflow_keeps_the_jobs_form(tmp_path: Path) -> None:
    result, out = ingest(tmp_path, 'workflow("unused")\ntrigger_job("a", job_command = "x")\n')
    assert result.code == 0, result.output
    assert "jobs" in json.loads(out.read_text())


def test_plan_groups_by_workflow(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(NAMED)
    result = run_cli("plan", "--src", tmp_path)
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[:3] == [
        "3 jobs in 2 workflows (dry run: nothing written)",
        "default workflow: 1 job in 1 stage", "stage 1"]
    assert "workflow release: 2 jobs in 2 stages" in result.stdout


@pytest.mark.parametrize(("text", "error"), [
    ('workflow("a")\nx = trigger_job("x")\ntrigger_job("y", workflow = "a", depends_on = [x])\n',
     "pipeline.star:3:1: error: job \"y\" (workflow 'a') depends on \"x\" (the default "
     "workflow)"),
    ('trigger_job("y", workflow = "b")\n',
     "pipeline.star:1:1: error: job \"y\": workflow 'b' is not declared"),
    ('workflow("a")\nworkflow("a")\n',
     "pipeline.star:2:1: error: workflow: workflow 'a' is declared twice"),
    ('workflow("")\n', "pipeline.star:1:1: error: workflow: workflow name must be"),
    ('workflow("a", vars = [1])\n', "workflow vars must be a dict"),
])
def test_workflow_mistakes_at_their_line(tmp_path: Path, text: str, error: str) -> None:
    result, out = ingest(tmp_path, text)
    assert result.code == 1
    assert error in result.stderr
    assert not out.exists()


def test_named_workflows_are_not_appended_to_a_plain_file(tmp_path: Path) -> None:
    result, out = ingest(tmp_path, 'trigger_job("a")\n')
    assert result.code == 0
    before = out.read_bytes()
    (tmp_path / "src" / "pipeline.star").write_text(NAMED)
    again = run_cli("ingest", "--no-submit", "--src", tmp_path / "src", "--triggers-file",
                       out)
    assert again.code == 1
    assert "cannot be appended" in again.stderr
    assert out.read_bytes() == before


TWIN = """\
from workflow import trigger_job, workflow, workflow_context
with workflow_context():
    workflow("release", vars={"channel": "stable", "n": 1})
    workflow("docs")
    trigger_job("test", job_command="make test")
    build = trigger_job("build", job_command="make build", workflow="release")
    trigger_job("publish", job_command="make publish", workflow="release",
                depends_on=[build])
"""


def test_the_python_twin_writes_the_same_workflows(tmp_path: Path) -> None:
    from tests.support.engine_run import run_script

    result, out = ingest(tmp_path, NAMED)
    assert result.code == 0, result.output
    script = tmp_path / "twin.py"
    script.write_text(TWIN)
    twin_out = tmp_path / "twin.json"
    twin = run_script(script, cwd=tmp_path, env={"REACTORCIDE_TRIGGERS_FILE": str(twin_out),
                                                  "REACTORCIDE_CODE_DIR": str(tmp_path)})
    assert twin.code == 0, twin.output
    assert json.loads(twin_out.read_text())["workflows"] == json.loads(out.read_text())[
        "workflows"]


def test_check_accepts_the_workflow_keyword(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(NAMED)
    result = run_cli("check", tmp_path / "pipeline.star")
    assert result.code == 0, result.output
    assert "unknown field" not in result.output
