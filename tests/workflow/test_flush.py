"""Writing triggers: flushes, `workflow_context` blocks, appending, concurrency and the
operation id."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.triggers.operation_id import derive
from tests.support.engine_run import clean_env
from tests.workflow.scripts import job_names, load, run_script
from workflow import WorkflowContext, trigger_job, workflow_context

SHA = "1" * 40


@pytest.fixture
def ctx_env(environment: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A job id and commit from the environment; returns the triggers file path."""
    environment.setenv("REACTORCIDE_JOB_ID", "ingest-1")
    environment.setenv("REACTORCIDE_SHA", SHA)
    environment.setenv("REACTORCIDE_BRANCH", "main")
    environment.setenv("REACTORCIDE_CODE_DIR", str(tmp_path))
    triggers = tmp_path / "out" / "triggers.json"
    environment.setenv("REACTORCIDE_TRIGGERS_FILE", str(triggers))
    return triggers


# --- flushes -------------------------------------------------------------------------

# Steps: "a" triggers job a, "b<a" triggers b depending on a, "|" flushes.
FLUSH_SEQUENCES = [
    ("one flush", "a |", ["a"], 1),
    ("second flush writes nothing twice", "a | |", ["a"], 1),
    ("jobs after a flush are appended", "a | b<a |", ["a", "b"], 2),
    ("a later job may depend on a flushed one", "a b | | c<a |", ["a", "b", "c"], 2),
    ("nothing triggered, nothing written", "|", [], 0),
]


@pytest.mark.parametrize(("steps", "names", "writes"),
                         [row[1:] for row in FLUSH_SEQUENCES],
                         ids=[row[0] for row in FLUSH_SEQUENCES])
def test_flush_sequence(ctx_env: Path, steps: str, names: list[str], writes: int) -> None:
    ctx = WorkflowContext()
    ids: list[str] = []
    for step in steps.split():
        if step == "|":
            ctx.flush_triggers()
            if ctx_env.exists():
                ids.append(load(ctx_env)["operation_id"])
        else:
            name, _, dependency = step.partition("<")
            ctx.trigger_job(name, depends_on=[dependency] if dependency else None)
    assert len(set(ids)) == writes
    if names:
        assert job_names(ctx_env) == names
    else:
        assert not ctx_env.exists()


def test_the_same_decisions_give_the_same_bytes(ctx_env: Path, tmp_path: Path) -> None:
    files = [tmp_path / "one.json", tmp_path / "two.json"]
    for path in files:
        ctx = WorkflowContext(path)
        ctx.trigger_job("build", env={"B": "2", "A": "1"}, timeout=60)
        ctx.trigger_job("test", depends_on=["build"], characteristics={"z": "1", "a": True})
        ctx.flush_triggers()
    one, two = (path.read_bytes() for path in files)
    assert one == two
    assert one.endswith(b"}\n")
    assert list(json.loads(one)) == ["type", "trigger_type", "operation_id", "jobs"]


def test_the_parent_directory_is_created(ctx_env: Path) -> None:
    ctx = WorkflowContext()
    ctx.trigger_job("a")
    ctx.flush_triggers()
    assert job_names(ctx_env) == ["a"]
    assert sorted(p.name for p in ctx_env.parent.iterdir()) == ["triggers.json"]


# --- workflow_context ------------------------------------------------------------------


def _end_normally(ctx: WorkflowContext) -> None:
    return None


def _raise_value_error(ctx: WorkflowContext) -> None:
    raise ValueError("analysis failed")


def _exit_1(ctx: WorkflowContext) -> None:
    sys.exit(1)


def _interrupt(ctx: WorkflowContext) -> None:
    raise KeyboardInterrupt


def _flush_inside(ctx: WorkflowContext) -> None:
    ctx.flush_triggers()


BLOCK_ENDINGS: list[tuple[str, Callable[[WorkflowContext], None],
                          type[BaseException] | None, bool]] = [
    ("normal end", _end_normally, None, True),
    ("exception", _raise_value_error, ValueError, False),
    ("sys.exit", _exit_1, SystemExit, False),
    ("KeyboardInterrupt", _interrupt, KeyboardInterrupt, False),
    ("flushed inside, then normal end", _flush_inside, None, True),
]


@pytest.mark.parametrize(("ending", "raises", "written"),
                         [row[1:] for row in BLOCK_ENDINGS],
                         ids=[row[0] for row in BLOCK_ENDINGS])
def test_a_block_flushes_only_when_it_ends_normally(
    ctx_env: Path, ending: Callable[[WorkflowContext], None],
    raises: type[BaseException] | None, written: bool,
) -> None:
    def block() -> None:
        with workflow_context() as ctx:
            ctx.trigger_job("a")
            trigger_job("b", depends_on=["a"])
            ending(ctx)

    if raises is None:
        block()
    else:
        with pytest.raises(raises):
            block()
    assert ctx_env.exists() is written
    if written:
        assert job_names(ctx_env) == ["a", "b"]


def test_module_functions_act_on_the_innermost_block(ctx_env: Path, tmp_path: Path) -> None:
    outer_file, inner_file = tmp_path / "outer.json", tmp_path / "inner.json"
    with workflow_context(outer_file):
        trigger_job("outer-1")
        with workflow_context(inner_file) as inner:
            trigger_job("inner-1")
            inner.trigger_job("inner-2")
        trigger_job("outer-2", depends_on=["outer-1"])
    assert job_names(inner_file) == ["inner-1", "inner-2"]
    assert job_names(outer_file) == ["outer-1", "outer-2"]


def test_worker_threads_reach_the_block_that_started_them(ctx_env: Path,
                                                          tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    block_file = tmp_path / "block.json"
    with workflow_context(block_file), ThreadPoolExecutor(2) as pool:
        trigger_job("main-job")
        list(pool.map(lambda name: trigger_job(name, depends_on=["main-job"]),
                      ["t1", "t2"]))
    assert sorted(job_names(block_file)) == ["main-job", "t1", "t2"]
    assert not ctx_env.exists()


def test_threads_with_their_own_blocks_stay_apart(ctx_env: Path, tmp_path: Path) -> None:
    import threading

    opened = threading.Barrier(2)

    def script(name: str) -> None:
        with workflow_context(tmp_path / f"{name}.json"):
            opened.wait()  # both blocks are open at once
            trigger_job(name)
            opened.wait()

    threads = [threading.Thread(target=script, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert job_names(tmp_path / "a.json") == ["a"]
    assert job_names(tmp_path / "b.json") == ["b"]


DEFAULT_CONTEXT_SCRIPT = """\
from workflow import flush_triggers, trigger_job, workflow_context

trigger_job("lint")
with workflow_context() as ctx:
    trigger_job("test")
{end}
"""


@pytest.mark.parametrize(("end", "names", "message"), [
    ("flush_triggers()", ["test", "lint"], "appended 1 job to"),
    ("", ["test"], "warning: 1 job triggered but never written to"),
], ids=["flushed", "never flushed"])
def test_outside_a_block_the_process_wide_context_is_used(
    tmp_path: Path, end: str, names: list[str], message: str
) -> None:
    script = tmp_path / "ingest.py"
    script.write_text(DEFAULT_CONTEXT_SCRIPT.format(end=end), encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    result = run_script(script, cwd=tmp_path, env={
        "REACTORCIDE_TRIGGERS_FILE": str(triggers), "REACTORCIDE_CODE_DIR": str(tmp_path)})
    assert result.code == 0, result.output
    assert job_names(triggers) == names
    assert message in result.stderr


# --- values as pipeline.star passes them ------------------------------------------------


def test_arguments_are_copied_and_tuples_are_lists(ctx_env: Path) -> None:
    env = {"TARGET": "staging"}
    deps = ("a",)
    ctx = WorkflowContext()
    ctx.trigger_job("a")
    ctx.trigger_job("b", env=env, depends_on=deps, capabilities=("docker",),
                    for_each=["x", "y"])
    env["TARGET"] = "production"
    ctx.flush_triggers()
    b = load(ctx_env)["jobs"][1]
    assert b["env"] == {"TARGET": "staging"}
    assert b["depends_on"] == ["a"]
    assert b["capabilities"] == ["docker"]


# --- concurrency -------------------------------------------------------------------------

WRITER = """\
from workflow import WorkflowContext
ctx = WorkflowContext()
for k in range({jobs}):
    ctx.trigger_job(f"w{writer}-j{{k}}", depends_on=[f"w{writer}-j{{k - 1}}"] if k else None)
ctx.flush_triggers()
"""


def test_concurrent_scripts_lose_no_job(tmp_path: Path) -> None:
    writers, jobs = 6, 8
    triggers = tmp_path / "triggers.json"
    procs = []
    for writer in range(writers):
        script = tmp_path / f"writer{writer}.py"
        script.write_text(WRITER.format(writer=writer, jobs=jobs), encoding="utf-8")
        procs.append(subprocess.Popen(
            [sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
            env=clean_env(REACTORCIDE_TRIGGERS_FILE=str(triggers),
                          REACTORCIDE_CODE_DIR=str(tmp_path))))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    names = job_names(triggers)
    assert len(names) == writers * jobs
    for writer in range(writers):
        assert [n for n in names if n.startswith(f"w{writer}-")] == [
            f"w{writer}-j{k}" for k in range(jobs)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".py") == ["triggers.json"]


# --- the operation id --------------------------------------------------------------------

BASE_ENV = {"REACTORCIDE_JOB_ID": "ingest-1", "REACTORCIDE_SHA": SHA}
OPERATION_IDS: list[tuple[str, dict[str, str], tuple[str, ...], bool]] = [
    ("same decision", {}, ("build", "test"), True),
    ("other job id", {"REACTORCIDE_JOB_ID": "ingest-2"}, ("build", "test"), False),
    ("other commit", {"REACTORCIDE_SHA": "2" * 40}, ("build", "test"), False),
    ("documented commit variable wins", {"REACTORCIDE_GIT_COMMIT": "3" * 40},
     ("build", "test"), False),
    ("other jobs", {}, ("build", "test", "lint"), False),
]


def _decide(path: Path, names: tuple[str, ...]) -> str:
    ctx = WorkflowContext(path)
    for name in names:
        ctx.trigger_job(name)
    ctx.flush_triggers()
    operation_id: str = load(path)["operation_id"]
    return operation_id


@pytest.mark.parametrize(("env", "names", "same"), [row[1:] for row in OPERATION_IDS],
                         ids=[row[0] for row in OPERATION_IDS])
def test_operation_id_follows_the_decision(environment: pytest.MonkeyPatch, tmp_path: Path,
                                           env: dict[str, str], names: tuple[str, ...],
                                           same: bool) -> None:
    environment.setenv("REACTORCIDE_CODE_DIR", str(tmp_path))
    for key, value in BASE_ENV.items():
        environment.setenv(key, value)
    base = _decide(tmp_path / "base.json", ("build", "test"))
    for key, value in env.items():
        environment.setenv(key, value)
    assert (_decide(tmp_path / "other.json", names) == base) is same


def test_operation_id_is_derived_from_the_decision_alone(ctx_env: Path) -> None:
    ctx = WorkflowContext()
    ctx.trigger_job("build", timeout=60)
    ctx.flush_triggers()
    doc = load(ctx_env)
    assert doc["operation_id"] == derive(job_id="ingest-1", commit=SHA,
                                         jobs=doc["jobs"], previous=None)
    ctx.trigger_job("test", depends_on=["build"])
    ctx.flush_triggers()
    appended = load(ctx_env)
    assert appended["operation_id"] == derive(
        job_id="ingest-1", commit=SHA, jobs=appended["jobs"][1:],
        previous=doc["operation_id"])


SCRIPT_A = """\
from workflow import workflow_context
with workflow_context() as ctx:
    ctx.trigger_job("build")
"""
SCRIPT_B = """\
# Another program, written differently, that makes the same decision.
import workflow

JOBS = ["build"]
with workflow.workflow_context() as context:
    for name in JOBS:
        workflow.trigger_job(name)
"""


def test_scripts_that_decide_alike_get_the_same_id(tmp_path: Path) -> None:
    ids = []
    for number, text in enumerate((SCRIPT_A, SCRIPT_B)):
        script = tmp_path / f"script{number}.py"
        script.write_text(text, encoding="utf-8")
        triggers = tmp_path / f"triggers{number}.json"
        result = run_script(script, cwd=tmp_path, env={
            **BASE_ENV, "REACTORCIDE_TRIGGERS_FILE": str(triggers),
            "REACTORCIDE_CODE_DIR": str(tmp_path)})
        assert result.code == 0, result.output
        ids.append(load(triggers)["operation_id"])
    assert ids[0] == ids[1]
