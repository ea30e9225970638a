"""Every resource limit of the sandbox ends the run cleanly and writes nothing.

Limits with small values go through the Python API in-process (which still forks the
real sandboxed child); default limits that are reached quickly go through the CLI.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from engine.core.diagnostics import Diagnostic, PipelineFailed
from engine.core.limits import Limits
from engine.run.ingest import Outcome, RunOptions, run
from engine.run.inputs import snapshot
from engine.sandbox import parent as sandbox_parent
from engine.sandbox.broker import HostServices
from tests.support.engine_run import Result, run_cli

# A valid triggers file in a layout the engine would never write itself (one line, no
# final newline), so that any rewrite shows up as a byte difference.
EXISTING_TRIGGERS = (
    b'{"type": "trigger_job", "operation_id": "op-existing", "jobs": '
    b'[{"job_name": "existing", "depends_on": [], "condition": "all_success", '
    b'"env": {"KEEP": "me"}}]}'
)
CRASH_WORDS = ("Traceback", "panicked", "RUST_BACKTRACE")


@dataclass
class Target:
    """A triggers file that may already exist, and what it held before the run."""

    path: Path
    before: bytes | None

    def assert_untouched(self) -> None:
        """The file is byte-identical (or still absent) and nothing else was created."""
        if self.before is None:
            assert not self.path.exists()
            assert list(self.path.parent.iterdir()) == []
        else:
            assert self.path.read_bytes() == self.before
            assert [p.name for p in self.path.parent.iterdir()] == [self.path.name]


def make_target(tmp_path: Path, existing: bool) -> Target:
    """The triggers file of a run in its own directory: an existing valid one, or none."""
    out = tmp_path / "out"
    out.mkdir()
    path = out / "triggers.json"
    if existing:
        path.write_bytes(EXISTING_TRIGGERS)
        return Target(path, EXISTING_TRIGGERS)
    return Target(path, None)


@pytest.fixture
def target(tmp_path: Path) -> Target:
    """An existing valid triggers file: a limit hit must leave it byte-identical.

    The absent case (a limit hit creates no file) is one test below, not a second run
    of every limit.
    """
    return make_target(tmp_path, existing=True)


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """In-process runs scrub GIT_* variables from os.environ; put them back."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def write_pipeline(tmp_path: Path, text: str) -> Path:
    """A source directory holding `pipeline.star`; returns the pipeline's path."""
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    pipeline = src / "pipeline.star"
    pipeline.write_text(text, encoding="utf-8")
    return pipeline


def api_run(pipeline: Path, triggers: Path, limits: Limits) -> tuple[Outcome, str]:
    """Run the engine in-process with these limits; returns the outcome and its stderr."""
    inputs = snapshot(
        src=str(pipeline.parent),
        pipeline=None,
        triggers_file=str(triggers),
        env={},
        token=None,
    )
    err = io.StringIO()
    outcome = run(inputs, RunOptions(limits=limits), stderr=err)
    return outcome, err.getvalue()


def api_fail(pipeline: Path, triggers: Path, limits: Limits) -> Diagnostic:
    """Run in-process, expect a PipelineFailed with exactly one diagnostic; return it."""
    with pytest.raises(PipelineFailed) as info:
        api_run(pipeline, triggers, limits)
    failure = info.value
    assert failure.exit_code == 1
    assert len(failure.diagnostics) == 1, [d.message for d in failure.diagnostics]
    diagnostic = failure.diagnostics[0]
    assert diagnostic.severity == "error"
    assert diagnostic.location.file == str(pipeline)
    return diagnostic


def cli_run(pipeline: Path, triggers: Path) -> Result:
    """Run `python -m engine` on the pipeline with the default limits."""
    return run_cli("--src", pipeline.parent, "--triggers-file", triggers, timeout=120)


def assert_clean_failure(result: Result) -> None:
    """Exit 1, a diagnostic on stderr, no traceback or panic text, nothing on stdout."""
    assert result.code == 1, result.output
    assert result.stdout == ""
    for word in CRASH_WORDS:
        assert word not in result.stderr, result.stderr
    assert result.stderr.rstrip("\n").endswith("nothing was written")


def loop_lines(text: str) -> set[int]:
    """1-based numbers of the lines holding a `for` statement."""
    return {n for n, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("for ")}


# --- wall clock and CPU time -----------------------------------------------------------

NESTED_LOOPS_IN_DEF = """\
def spin():
    for i in range(100000):
        for j in range(100000):
            pass

spin()
"""
NESTED_LOOPS_TOP_LEVEL = """\
for i in range(100000):
    for j in range(100000):
        pass
"""
SINGLE_LONG_OPERATION = "x = max(range(2147483647))\n"


FLAT_LOOP = "x = 0\nfor i in range(2000000000):\n    x = i\n"
LOOP_LIMITS = {
    # a loop, the limits it runs under, what stops it
    "wall clock, in a def": (NESTED_LOOPS_IN_DEF, Limits(wall_seconds=1, cpu_seconds=5),
                             "wall-clock limit of 1 s"),
    "wall clock, top level": (NESTED_LOOPS_TOP_LEVEL, Limits(wall_seconds=1, cpu_seconds=5),
                              "wall-clock limit of 1 s"),
    "CPU, nested loops": (NESTED_LOOPS_IN_DEF, Limits(wall_seconds=30, cpu_seconds=1),
                          "CPU-time limit of 1 s"),
    "CPU, one flat loop": (FLAT_LOOP, Limits(wall_seconds=30, cpu_seconds=1),
                           "CPU-time limit of 1 s"),
}


@pytest.mark.parametrize("text, limits, message", LOOP_LIMITS.values(), ids=LOOP_LIMITS.keys())
def test_time_limits_stop_loops_at_their_line(tmp_path: Path, target: Target, text: str,
                                              limits: Limits, message: str) -> None:
    pipeline = write_pipeline(tmp_path, text)

    diagnostic = api_fail(pipeline, target.path, limits)

    assert message in diagnostic.message
    assert diagnostic.location.line in loop_lines(text)
    target.assert_untouched()


def test_a_sandbox_forked_from_a_large_host_reports_the_limit_it_hits(
        tmp_path: Path, target: Target) -> None:
    # An in-process run forks its sandbox from the host, which may already have most of
    # the memory limit mapped (arenas, stacks): that alone is not the memory limit.
    import mmap

    pipeline = write_pipeline(tmp_path, NESTED_LOOPS_IN_DEF)
    limit_mb = 4096
    in_use = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    # The host then holds 95 % of the limit: address space only, never touched.
    reserved = mmap.mmap(-1, int(limit_mb * 1024 * 1024 * 0.95) - in_use)
    try:
        diagnostic = api_fail(pipeline, target.path,
                              Limits(wall_seconds=1, cpu_seconds=5, memory_mb=limit_mb))
    finally:
        reserved.close()

    assert "wall-clock limit of 1 s" in diagnostic.message
    target.assert_untouched()


def test_wall_clock_kills_a_single_long_operation(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, SINGLE_LONG_OPERATION)

    diagnostic = api_fail(pipeline, target.path, Limits(wall_seconds=1, cpu_seconds=30))

    assert "wall-clock limit of 1 s" in diagnostic.message
    target.assert_untouched()


def test_cpu_limit_stops_a_single_long_operation(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, SINGLE_LONG_OPERATION)

    diagnostic = api_fail(pipeline, target.path, Limits(wall_seconds=30, cpu_seconds=1))

    assert "CPU-time limit of 1 s" in diagnostic.message
    target.assert_untouched()


def test_a_single_operation_ending_in_the_grace_period_still_fails(
        tmp_path: Path, target: Target) -> None:
    # The kill comes after a grace period; an operation that ends within it must not
    # let the run succeed late.
    pipeline = write_pipeline(tmp_path, 'x = max(range(60000000))\ntrigger_job("a")\n')

    diagnostic = api_fail(pipeline, target.path,
                          Limits(wall_seconds=0.2, cpu_seconds=30, kill_grace_seconds=20))

    assert "wall-clock limit of 0.2 s exceeded" in diagnostic.message
    target.assert_untouched()


def _slow_git(directory: Path) -> None:
    """A `git` that answers `git version` (GitPython asks it once) and hangs otherwise."""
    real = shutil.which("git")
    directory.mkdir()
    script = directory / "git"
    script.write_text(f'#!/bin/sh\ncase "$1" in version) exec {real} "$@";; esac\n'
                      "exec sleep 30\n", encoding="utf-8")
    script.chmod(0o755)


def test_git_answers_count_against_the_wall_clock(tmp_path: Path, target: Target,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = write_pipeline(tmp_path, 'x = 1\nfiles = changed_files()\ntrigger_job("a")\n')
    subprocess.run(["git", "init", "-q", str(pipeline.parent)], check=True)
    shims = tmp_path / "shims"
    _slow_git(shims)
    monkeypatch.setenv("PATH", f"{shims}{os.pathsep}{os.environ['PATH']}")

    diagnostic = api_fail(pipeline, target.path, Limits(wall_seconds=1, cpu_seconds=5))

    assert "did not answer within the wall-clock limit of 1 s" in diagnostic.message
    assert (diagnostic.location.line, diagnostic.location.col) == (2, 9)
    target.assert_untouched()


# --- memory ---------------------------------------------------------------------------

MEMORY_BOMBS = {
    "repeat": 'x = "x" * 2000000000\n',
    "string-doubling": 's = "x"\nfor i in range(40):\n    s = s + s\n',
    "list-growth": "l = [0] * 1000\nfor i in range(30):\n    l = l + l\n",
}


@pytest.mark.parametrize("text", [
    "d = {i: i for i in range(30000000)}\n",
    "d = {}\nfor i in range(30000000):\n    d[i] = i\n",
    "l = []\nfor i in range(100000000):\n    l.append(i)\n",
], ids=["dict comprehension", "dict growth", "list append"])
def test_table_bombs_hit_the_memory_limit(tmp_path: Path, target: Target, text: str) -> None:
    # Through the command line, in a process of its own: a sandbox forked from the test
    # runner would start with more than 64 MiB mapped, and fail before running anything.
    pipeline = write_pipeline(tmp_path, text)
    policy = tmp_path / "policy.toml"
    policy.write_text("[limits]\nmemory_mb = 64\nwall_seconds = 30\ncpu_seconds = 30\n",
                      encoding="utf-8")

    result = run_cli("--src", pipeline.parent, "--triggers-file", target.path,
                        "--policy", policy, timeout=120)

    assert_clean_failure(result)
    assert result.stderr.startswith(f"{pipeline}: error: memory limit of 64 MiB exceeded")
    assert "used: " in result.stderr and "memory_mb " in result.stderr
    target.assert_untouched()


@pytest.mark.parametrize("text", list(MEMORY_BOMBS.values()), ids=list(MEMORY_BOMBS))
def test_memory_bomb_hits_the_default_memory_limit(
    tmp_path: Path, target: Target, text: str
) -> None:
    pipeline = write_pipeline(tmp_path, text)

    result = cli_run(pipeline, target.path)

    assert_clean_failure(result)
    assert "memory limit of 1024 MiB exceeded" in result.stderr
    assert result.stderr.startswith(f"{pipeline}")
    target.assert_untouched()


# --- call stack -------------------------------------------------------------------------

RECURSION = """\
def down(n):
    return down(n + 1)

down(0)
"""


def test_deep_recursion_hits_the_call_stack_limit(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, RECURSION)

    result = cli_run(pipeline, target.path)

    assert_clean_failure(result)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{pipeline}:2:")
    assert "call-stack limit of 200 frames" in first
    assert len(result.output.splitlines()) < 40
    target.assert_untouched()


# --- number of jobs ----------------------------------------------------------------------

JOBS_LOOP = """\
for i in range({count}):
    trigger_job("job-%d" % i)
"""


def test_job_cap_of_1000_stops_at_the_trigger_job_call(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, JOBS_LOOP.format(count=1001))

    result = cli_run(pipeline, target.path)

    assert_clean_failure(result)
    assert result.stderr.splitlines()[0] == (
        f"{pipeline}:2:5: error: job limit of 1000 jobs exceeded"
    )
    target.assert_untouched()


def test_exactly_1000_jobs_are_accepted(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, JOBS_LOOP.format(count=1000))
    triggers = tmp_path / "triggers.json"

    result = cli_run(pipeline, triggers)

    assert result.code == 0, result.output
    assert "wrote 1000 jobs" in result.stdout
    assert triggers.read_bytes().count(b'"job_name"') == 1000


SIX_JOBS = """\
def many():
    for name in ["a", "b", "c", "d", "e", "f"]:
        trigger_job(name)

many()
"""


def test_small_job_cap_via_api(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, SIX_JOBS)

    diagnostic = api_fail(pipeline, target.path, Limits(max_jobs=5))

    assert diagnostic.message == "job limit of 5 jobs exceeded"
    assert (diagnostic.location.line, diagnostic.location.col) == (3, 9)
    target.assert_untouched()


def test_a_limit_hit_creates_no_triggers_file(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, SIX_JOBS)
    absent = make_target(tmp_path, existing=False)

    diagnostic = api_fail(pipeline, absent.path, Limits(max_jobs=5))

    assert diagnostic.message == "job limit of 5 jobs exceeded"
    absent.assert_untouched()


def test_small_job_cap_allows_exactly_that_many(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, SIX_JOBS.replace(', "f"', ""))
    triggers = tmp_path / "triggers.json"

    outcome, _ = api_run(pipeline, triggers, Limits(max_jobs=5))

    assert [job.name for job in outcome.jobs] == ["a", "b", "c", "d", "e"]
    assert triggers.is_file()


# --- size of the triggers document -----------------------------------------------------------

BIG_ENV_JOBS = """\
for i in range(5):
    trigger_job("job-%d" % i, env = {"PAYLOAD": "x" * 500})
"""


def test_output_cap_refuses_an_oversized_document(tmp_path: Path, target: Target) -> None:
    pipeline = write_pipeline(tmp_path, BIG_ENV_JOBS)

    diagnostic = api_fail(pipeline, target.path, Limits(max_output_bytes=2000))

    assert "output limit of 2000 bytes exceeded" in diagnostic.message
    target.assert_untouched()


def test_output_cap_lets_a_small_document_through(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, 'trigger_job("one", env = {"A": "b"})\n')
    triggers = tmp_path / "triggers.json"

    outcome, _ = api_run(pipeline, triggers, Limits(max_output_bytes=2000))

    data = triggers.read_bytes()
    assert outcome.written
    assert 0 < len(data) <= 2000


# --- print output -----------------------------------------------------------------------------

MANY_PRINTS = """\
for i in range(10, 60):
    print("line %d" % i)
trigger_job("after-prints")
"""


def test_print_cap_truncates_with_a_notice_and_the_run_succeeds(tmp_path: Path) -> None:
    pipeline = write_pipeline(tmp_path, MANY_PRINTS)
    triggers = tmp_path / "triggers.json"

    outcome, stderr = api_run(pipeline, triggers, Limits(max_print_bytes=100))

    lines = stderr.splitlines()
    notices = [n for n, line in enumerate(lines) if "truncated" in line]
    assert len(notices) == 1, stderr
    assert "100 bytes" in lines[notices[0]]
    shown = lines[: notices[0]]
    assert shown[0] == "line 10"
    # whole lines, then what fits of the next one
    assert shown[:-1] == [f"line {i}" for i in range(10, 10 + len(shown) - 1)]
    assert f"line {10 + len(shown) - 1}".startswith(shown[-1])
    assert sum(len(line) + 1 for line in shown) <= 100
    assert "line 59" not in stderr
    assert lines[notices[0] + 1 :] == []
    assert [job.name for job in outcome.jobs] == ["after-prints"]
    assert b'"after-prints"' in triggers.read_bytes()


BIG_PRINTS = {
    # one print far beyond the budget (and beyond what one message to the parent may
    # carry), and many prints past it, which must cost the pipeline nothing more
    "one huge print": 'print("x" * 70000000)\ntrigger_job("after")\n',
    "a flood of prints": 'for i in range(100000):\n    print("flood")\ntrigger_job("after")\n',
}


@pytest.mark.parametrize("text", BIG_PRINTS.values(), ids=BIG_PRINTS.keys())
def test_oversized_prints_are_cut_to_the_budget(tmp_path: Path, text: str) -> None:
    # Through the command line, in a process of its own, whose sandbox has the whole
    # memory limit for the 70 MB string (a forked test runner would already use much of
    # it).
    pipeline = write_pipeline(tmp_path, text)
    triggers = tmp_path / "triggers.json"
    policy = tmp_path / "policy.toml"
    # The clocks are generous: a loaded machine must not turn this into a time-limit test.
    policy.write_text("[limits]\nmax_print_bytes = 1000\nwall_seconds = 60\n"
                      "cpu_seconds = 60\n", encoding="utf-8")

    result = run_cli("--src", pipeline.parent, "--triggers-file", triggers,
                        "--policy", policy, timeout=120)

    assert result.code == 0, result.output
    lines = result.stderr.splitlines()[:-1]  # then the `used:` line
    assert lines[-1] == "[print output truncated: limit of 1000 bytes reached]"
    assert sum(len(line) + 1 for line in lines[:-1]) <= 1000
    assert lines[0].startswith(("xxx", "flood"))
    assert b'"after"' in triggers.read_bytes()


# --- a child that dies ------------------------------------------------------------------------


def test_a_small_memory_limit_is_counted_from_the_fork_and_reported_as_such(
    tmp_path: Path, target: Target
) -> None:
    # The limit is what the evaluation may map beyond what the sandbox inherited (the
    # test runner maps far more than 8 MiB, some of it free heap a string could reuse):
    # a 2 GB string is past it whatever the runner holds.
    pipeline = write_pipeline(tmp_path, 'x = "x" * 2000000000\ntrigger_job("never")\n')

    diagnostic = api_fail(pipeline, target.path, Limits(memory_mb=8))

    for word in CRASH_WORDS:
        assert word not in diagnostic.message
    assert "memory limit of 8 MiB" in diagnostic.message
    target.assert_untouched()


class _NoAnswers:
    """Services for a child that should never get as far as asking anything."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.shown: list[str] = []

    def answer(self, capability: str, method: str, args: list[Any]) -> Any:
        self.calls.append((capability, method))
        raise AssertionError("no capability call expected")

    def show(self, text: str) -> None:
        self.shown.append(text)


@pytest.mark.parametrize(
    "request_",
    [{"mode": "bogus"}, {}, {"mode": "evaluate", "source": {"name": "p.star"}}],
    ids=["bogus-mode", "no-mode", "no-text"],
)
def test_child_crash_on_a_malformed_request_is_reported(request_: dict[str, Any]) -> None:
    services = _NoAnswers()

    with pytest.raises(PipelineFailed) as info:
        sandbox_parent.run_child(request_, Limits(), services, "where.star")

    failure = info.value
    assert failure.exit_code == 1
    assert len(failure.diagnostics) == 1
    diagnostic = failure.diagnostics[0]
    assert str(diagnostic.location) == "where.star"
    assert "the sandbox failed" in diagnostic.message
    assert "\n" not in diagnostic.message
    assert "Traceback" not in diagnostic.message
    assert services.calls == []


PRINT_THEN_SPIN = """\
print("about to be killed")
for i in range(1000000000):
    pass
"""


def _kill_child_on_first_print(
    monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> list[int]:
    """Record the sandbox's pid at fork; kill it with `sig` when it first prints."""
    pids: list[int] = []
    real_fork: Callable[[], int] = os.fork

    def recording_fork() -> int:
        pid = real_fork()
        if pid:
            pids.append(pid)
        return pid

    def killing_show(self: HostServices, text: str) -> None:
        os.kill(pids[-1], sig)

    monkeypatch.setattr(os, "fork", recording_fork)
    monkeypatch.setattr(HostServices, "show", killing_show)
    return pids


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT], ids=lambda s: s.name
)
def test_child_killed_by_a_signal_is_reported(
    tmp_path: Path, target: Target, monkeypatch: pytest.MonkeyPatch, sig: signal.Signals
) -> None:
    pipeline = write_pipeline(tmp_path, PRINT_THEN_SPIN)
    pids = _kill_child_on_first_print(monkeypatch, sig)

    diagnostic = api_fail(pipeline, target.path, Limits(wall_seconds=20, cpu_seconds=20))

    assert len(pids) == 1
    assert f"crashed (signal {sig.name})" in diagnostic.message
    assert "wall-clock" not in diagnostic.message
    target.assert_untouched()


def test_child_killed_with_sigkill_is_reported(
    tmp_path: Path, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = write_pipeline(tmp_path, PRINT_THEN_SPIN)
    pids = _kill_child_on_first_print(monkeypatch, signal.SIGKILL)

    diagnostic = api_fail(pipeline, target.path, Limits(wall_seconds=20, cpu_seconds=20))

    assert len(pids) == 1
    # SIGKILL is what the kernel's OOM killer sends, so the engine reads it as memory.
    assert "memory limit of 1024 MiB exceeded" in diagnostic.message
    assert "wall-clock" not in diagnostic.message
    target.assert_untouched()
