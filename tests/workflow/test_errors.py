"""Refused triggers, invalid triggers files and the operator's policy: the error names
the job and the script line that created it, and nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.policy import load_policy
from tests.workflow.scripts import job_names, run_script
from workflow import TriggerError, WorkflowContext, WorkflowError

EXISTING = (json.dumps({
    "type": "trigger_job",
    "operation_id": "earlier",
    "jobs": [{"job_name": "setup", "depends_on": [], "condition": "all_success", "env": {}}],
}, indent=2) + "\n").encode()

# Each body runs after `from workflow import *` and before `flush_triggers()`; the line
# marked `# <-` is the one the error must point at (its first non-blank column).
REFUSED: list[tuple[str, str, str]] = [
    ("reserved env prefix",
     'trigger_job("deploy", env={"REACTORCIDE_JOB_ID": "x"})  # <-',
     "job \"deploy\": env key 'REACTORCIDE_JOB_ID' uses the reserved prefix 'REACTORCIDE_'"),
    ("workflow env prefix",
     'trigger_job("deploy", env={"RC_WF_ID": "x"})  # <-',
     "job \"deploy\": env key 'RC_WF_ID' uses the reserved prefix 'RC_WF_'"),
    ("env value not a string",
     'trigger_job("deploy", env={"REPLICAS": 3})  # <-',
     "job \"deploy\": env['REPLICAS'] must be a string, got int"),
    ("invalid job name",
     'trigger_job("-deploy")  # <-',
     "job_name '-deploy' is not allowed"),
    ("unknown field",
     'trigger_job("build", containr_image="node:22")  # <-',
     "job \"build\": unknown field 'containr_image'"),
    ("bool priority",
     'trigger_job("build", priority=True)  # <-',
     'job "build": priority must be an int, got bool'),
    ("zero timeout",
     'trigger_job("build", timeout=0)  # <-',
     'job "build": timeout must be greater than 0, got 0'),
    ("unknown condition",
     'trigger_job("build", condition="sometimes")  # <-',
     "job \"build\": condition 'sometimes' is not one of"),
    ("platform field",
     'trigger_job("build", ci_origin="fork")  # <-',
     "job \"build\": field 'ci_origin' is set by the platform"),
    ("key the coordinator refuses",
     'trigger_job("build", characteristics={"org": "acme"})  # <-',
     "job \"build\": characteristics key 'org' is refused"),
    ("triggered twice",
     'trigger_job("build")\ntrigger_job("build")  # <-',
     'job "build" is triggered twice (first at @SCRIPT@:2:1)'),
    ("in a helper, in a block",
     "def schedule(ctx, name):\n"
     "    ctx.trigger_job(name, timeout=-5)  # <-\n"
     "with workflow_context() as ctx:\n"
     '    schedule(ctx, "slow")',
     'job "slow": timeout must be greater than 0, got -5'),
    ("refused, caught, flushed anyway",
     'trigger_job("build")\n'
     "try:\n"
     '    trigger_job("deploy", env={"RC_WF_VARS_JSON": "{}"})  # <-\n'
     "except TriggerError as err:\n"
     '    print("carrying on after:", err)',
     "job \"deploy\": env key 'RC_WF_VARS_JSON' uses the reserved prefix 'RC_WF_'"),
    ("unknown dependency (at the flush)",
     'trigger_job("build")\ntrigger_job("deploy", depends_on=["biuld"])  # <-',
     'job "deploy" depends on "biuld", which no trigger creates'),
    ("cycle (at the flush)",
     'trigger_job("a", depends_on=["b"])  # <-\ntrigger_job("b", depends_on=["a"])',
     "dependency cycle: a -> b -> a"),
    ("already in the file (at the flush)",
     'trigger_job("setup")  # <-',
     'job "setup" is already in the triggers file'),
]


def _script(body: str) -> tuple[str, int, int]:
    text = f"from workflow import *\n{body}\nflush_triggers()\n"
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.endswith("# <-"))
    col = len(lines[line - 1]) - len(lines[line - 1].lstrip()) + 1
    return text, line, col


@pytest.mark.parametrize(("body", "message"), [row[1:] for row in REFUSED],
                         ids=[row[0] for row in REFUSED])
def test_a_refused_trigger_names_job_and_line_and_nothing_is_written(
    tmp_path: Path, body: str, message: str
) -> None:
    text, line, col = _script(body)
    script = tmp_path / "ingest.py"
    script.write_text(text, encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    triggers.write_bytes(EXISTING)

    result = run_script(script, cwd=tmp_path, env={
        "REACTORCIDE_TRIGGERS_FILE": str(triggers), "REACTORCIDE_CODE_DIR": str(tmp_path)})

    assert result.code == 1, result.output
    where = f"{script}:{line}:{col}: error: "
    assert where + message.replace("@SCRIPT@", str(script)) in result.stderr, result.output
    assert "workflow.errors.TriggerError" in result.stderr
    assert triggers.read_bytes() == EXISTING
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ingest.py", "triggers.json"]


def test_a_refused_trigger_shows_the_line_with_a_caret(tmp_path: Path) -> None:
    ctx = WorkflowContext(tmp_path / "t.json")
    with pytest.raises(TriggerError) as raised:
        ctx.trigger_job("deploy", env={"RC_WF_X": "1"})
    text = str(raised.value)
    here = Path(__file__).resolve()
    first, *snippet = text.splitlines()
    assert first.startswith(f"{here}:")
    assert 'job "deploy"' in first
    assert any('ctx.trigger_job("deploy", env=' in line for line in snippet)
    assert snippet[-1].endswith("^")
    assert len(raised.value.diagnostics) == 1


INVALID_FILES: list[tuple[str, bytes, str]] = [
    ("not JSON", b"{", "existing triggers file is not valid (not JSON"),
    ("a list", b"[]", "not a JSON object"),
    ("wrong type", b'{"type": "other", "jobs": []}', '"type" must be "trigger_job"'),
    ("invalid job", b'{"type": "trigger_job", "jobs": [{"job_name": "x", "env": {"A": 1}}]}',
     "jobs[0]: job \"x\": env['A'] must be a string"),
]


@pytest.mark.parametrize(("content", "message"), [row[1:] for row in INVALID_FILES],
                         ids=[row[0] for row in INVALID_FILES])
def test_an_invalid_triggers_file_is_left_untouched(tmp_path: Path, content: bytes,
                                                     message: str) -> None:
    triggers = tmp_path / "triggers.json"
    triggers.write_bytes(content)
    ctx = WorkflowContext(triggers)
    ctx.trigger_job("build")
    with pytest.raises(WorkflowError) as raised:
        ctx.flush_triggers()
    assert type(raised.value) is WorkflowError
    assert message in str(raised.value)
    assert str(raised.value).endswith("nothing was written")
    assert triggers.read_bytes() == content


# --- the operator's policy ----------------------------------------------------------

POLICY = """\
[jobs]
allowed_images = ["reactorcide/*", "python:3.*"]
max_priority = 5
reserved_env_prefixes = ["DEPLOY_KEY"]

[limits]
max_jobs = 3
"""

POLICY_RULES: list[tuple[str, dict[str, Any], str | None]] = [
    ("allowed image", {"container_image": "reactorcide/runner:latest"}, None),
    ("image not allowed", {"container_image": "evil/miner"},
     "container_image 'evil/miner' is not allowed by the policy (jobs.allowed_images)"),
    ("priority above the maximum", {"priority": 9},
     "priority 9 is above the policy's maximum of 5 (jobs.max_priority)"),
    ("policy's reserved prefix", {"env": {"DEPLOY_KEY_ID": "x"}},
     "env key 'DEPLOY_KEY_ID' uses the reserved prefix 'DEPLOY_KEY'"),
    ("built-in prefixes stay reserved", {"env": {"REACTORCIDE_SHA": "x"}},
     "env key 'REACTORCIDE_SHA' uses the reserved prefix 'REACTORCIDE_'"),
]


@pytest.fixture(params=["environment variable", "argument"])
def policy_context(request: pytest.FixtureRequest, environment: pytest.MonkeyPatch,
                   tmp_path: Path) -> WorkflowContext:
    """A context under POLICY, given the way the engine reads it or as an argument."""
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    if request.param == "argument":
        return WorkflowContext(tmp_path / "t.json", policy=load_policy([str(path)]))
    environment.setenv("REACTORCIDE_PIPELINE_POLICY", str(path))
    return WorkflowContext(tmp_path / "t.json")


@pytest.mark.parametrize(("fields", "message"), [row[1:] for row in POLICY_RULES],
                         ids=[row[0] for row in POLICY_RULES])
def test_the_policy_checks_every_trigger(policy_context: WorkflowContext,
                                         fields: dict[str, Any],
                                         message: str | None) -> None:
    if message is None:
        assert policy_context.trigger_job("build", **fields) == "build"
        policy_context.flush_triggers()
        assert job_names(Path(policy_context.triggers_file)) == ["build"]
        return
    with pytest.raises(TriggerError) as raised:
        policy_context.trigger_job("build", **fields)
    assert raised.value.diagnostics[0].message == f'job "build": {message}'
    with pytest.raises(TriggerError, match="nothing was written: a trigger was refused"):
        policy_context.flush_triggers()
    assert not Path(policy_context.triggers_file).exists()


def test_the_policy_limits_the_number_of_jobs(policy_context: WorkflowContext) -> None:
    for name in ("a", "b", "c"):
        policy_context.trigger_job(name)
    with pytest.raises(TriggerError, match="job limit of 3 jobs exceeded"):
        policy_context.trigger_job("d")


def test_an_invalid_policy_file_is_an_error(environment: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[jobs]\nmax_priorty = 5\n", encoding="utf-8")
    environment.setenv("REACTORCIDE_PIPELINE_POLICY", str(path))
    with pytest.raises(WorkflowError, match=r"unknown key jobs\.max_priorty"):
        WorkflowContext(tmp_path / "t.json")


def test_any_success_is_accepted_with_the_engines_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = WorkflowContext(tmp_path / "t.json")
    ctx.trigger_job("notify", condition="any_success")
    warning = capsys.readouterr().err.splitlines()[0]
    assert warning.startswith(f"{Path(__file__).resolve()}:")
    assert warning.endswith(': warning: job "notify": condition "any_success" is documented '
                            "but the coordinator does not implement it; the job will be "
                            "skipped")
    ctx.flush_triggers()
    assert job_names(tmp_path / "t.json") == ["notify"]


# The same refusals from the engine's one job book, through `pipeline.star` and through
# the Python API: the calls (Starlark text; the Python twin is the same text with Python's
# keyword spacing, run as a file of its own), the policy's job limit, and the words
# both must say.
SHARED_WORDS: list[tuple[str, str, int, str]] = [
    ("workflow not declared", 'trigger_job("y", workflow = "b")', 1000,
     'job "y": workflow \'b\' is not declared: call workflow("b") before triggering jobs '
     "in it"),
    ("declared twice", 'workflow("a")\nworkflow("a")', 1000,
     "workflow: workflow 'a' is declared twice"),
    ("triggered twice", 'trigger_job("a")\ntrigger_job("a")', 1000,
     'job "a" is triggered twice (first at @FILE@:1:1)'),
    ("job limit", 'trigger_job("a")\ntrigger_job("b")\ntrigger_job("c")', 2,
     "job limit of 2 jobs exceeded"),
]


@pytest.mark.parametrize(("calls", "max_jobs", "words"), [row[1:] for row in SHARED_WORDS],
                         ids=[row[0] for row in SHARED_WORDS])
def test_both_apis_refuse_in_the_same_words(tmp_path: Path, calls: str, max_jobs: int,
                                            words: str) -> None:
    from tests.support.engine_run import run_cli

    policy = tmp_path / "policy.toml"
    policy.write_text(f"[limits]\nmax_jobs = {max_jobs}\n", encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    pipeline = src / "pipeline.star"
    pipeline.write_text(calls + "\n", encoding="utf-8")
    result = run_cli("ingest", "--no-submit", "--src", src, "--policy", policy,
                     "--triggers-file", tmp_path / "t.json")
    line = len(calls.splitlines())
    assert result.code == 1, result.output
    assert f"{pipeline}:{line}:1: error: {words.replace('@FILE@', str(pipeline))}\n" in (
        result.stderr), result.output

    twin = tmp_path / "twin.py"
    twin.write_text(calls.replace(" = ", "=") + "\n", encoding="utf-8")
    ctx = WorkflowContext(tmp_path / "t.json", policy=load_policy([str(policy)]))
    with pytest.raises((TriggerError, WorkflowError)) as raised:
        exec(compile(twin.read_text(), str(twin), "exec"),
             {"trigger_job": ctx.trigger_job, "workflow": ctx.workflow})
    assert raised.value.diagnostics[0].message == words.replace("@FILE@", str(twin))
    assert raised.value.diagnostics[0].location.line == line
