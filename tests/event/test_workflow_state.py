"""Workflow state: `ctx.vars` in, `set_workflow_var`/`set_workflow_output` out, written
by the parent to `RC_WF_OUTPUT_FILE` only when the run succeeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.engine_run import run_cli, run_script

PIPELINE = """\
print("vars: %s" % json.encode(ctx.vars))
set_workflow_var("version", {"major": ctx.vars.get("major", 0) + 1})
ctx.set_workflow_output("image", "shop:%d" % (ctx.vars.get("major", 0) + 1))
trigger_job("t", job_command = "x")
"""


def run(tmp_path: Path, text: str, env: dict[str, str], *args: str) -> tuple[
        int, str, Path]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text)
    out = tmp_path / "job" / "workflow-output.json"
    result = run_cli("ingest", "--no-submit", "--src", src, "--triggers-file",
                        tmp_path / "triggers.json", *args,
                        env={"RC_WF_OUTPUT_FILE": str(out), **env})
    return result.code, result.output, out


def test_state_is_written_merged_with_what_is_there(tmp_path: Path) -> None:
    out = tmp_path / "job" / "workflow-output.json"
    out.parent.mkdir(parents=True)
    out.write_text('{"vars": {"kept": true}, "outputs": {}, "other": 1}')
    code, output, out = run(tmp_path, PIPELINE, {"RC_WF_VARS_JSON": '{"major": 4}'})
    assert code == 0, output
    assert 'vars: {"major":4}' in output
    assert json.loads(out.read_text()) == {
        "vars": {"kept": True, "version": {"major": 5}},
        "outputs": {"image": "shop:5"}, "other": 1}


def test_vars_from_the_file_when_no_inline_json(tmp_path: Path) -> None:
    vars_file = tmp_path / "workflow-vars.json"
    vars_file.write_text('{"major": 1}')
    code, output, out = run(tmp_path, PIPELINE, {"RC_WF_VARS_FILE": str(vars_file)})
    assert code == 0, output
    assert json.loads(out.read_text())["outputs"] == {"image": "shop:2"}


def test_a_failed_run_writes_no_state(tmp_path: Path) -> None:
    code, _, out = run(tmp_path, PIPELINE + 'fail("no")\n', {})
    assert code == 1
    assert not out.exists()


def test_a_dry_run_writes_no_state(tmp_path: Path) -> None:
    code, _, out = run(tmp_path, PIPELINE, {}, "--dry-run")
    assert code == 0
    assert not out.exists()


def test_over_one_mebibyte_nothing_is_written(tmp_path: Path) -> None:
    big = 'set_workflow_output("blob", "x" * (1024 * 1024))\n'
    code, output, out = run(tmp_path, big, {})
    assert code == 2
    assert "at most 1048576" in output
    assert not out.exists()


@pytest.mark.parametrize(("call", "message"), [
    ('set_workflow_var("", 1)', "set_workflow_var: the key must not be empty"),
    ("set_workflow_output(1, 1)", "set_workflow_output: the key must be a string"),
])
def test_bad_entries_fail_at_the_line(tmp_path: Path, call: str, message: str) -> None:
    code, output, out = run(tmp_path, 'trigger_job("t", job_command = "x")\n' + call + "\n",
                            {})
    assert code == 1
    assert "pipeline.star:2:1: error: " + message in output
    assert not out.exists()


SCRIPT = """\
import json
from workflow import set_workflow_output, set_workflow_var, workflow_vars, WorkflowContext
print(json.dumps(workflow_vars()))
set_workflow_var("n", workflow_vars()["n"] + 1)
set_workflow_output("done", True)
print(type(WorkflowContext().triggers_file).__name__)
"""


def test_the_python_api(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(SCRIPT)
    out = tmp_path / "wo.json"
    result = run_script(script, cwd=tmp_path, env={
        "RC_WF_VARS_JSON": '{"n": 1}', "RC_WF_OUTPUT_FILE": str(out)})
    assert result.code == 0, result.output
    assert result.stdout.splitlines() == ['{"n": 1}', "PosixPath"]
    assert json.loads(out.read_text()) == {"vars": {"n": 2}, "outputs": {"done": True}}
