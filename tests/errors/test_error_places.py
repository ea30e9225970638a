"""Every error at its place: loaded files named with the call stack through them,
messages in the pipeline's terms (no binding or Python internals), the unclosed bracket
named mid-file, limit errors at the pipeline's line and the same limit on every run,
a ref typo answered with the closest existing ref."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.engine_run import Result, run_cli
from tests.support.gitrepo import add_origin, make_repo

# Words that belong to the interpreter binding or to Python, never to a pipeline author.
INTERNALS = re.compile(r"<locals>|<engine prelude>|TypeError|Found `|`a\d+`|extra named|"
                       r"unexpected keyword argument|Type of parameter")


def plan(src: Path, *extra: str, pipeline: str = "pipeline.star") -> Result:
    return run_cli("plan", "--src", src, "--pipeline", src / pipeline, *extra,
                   env={"REACTORCIDE_GIT_BRANCH": "main", "REACTORCIDE_GIT_COMMIT": "c0"})


def first_line(result: Result) -> str:
    return result.stderr.splitlines()[0]


def test_error_in_a_loaded_file_names_it_with_the_stack_through_every_file(
        tmp_path: Path) -> None:
    (tmp_path / "ci" / "lib").mkdir(parents=True)
    (tmp_path / "ci" / "lib" / "helpers.star").write_text(
        "def make(name):\n    x = 1 // 0\n    return trigger_job(name)\n\n"
        "def wrap(name):\n    return make(name)\n")
    (tmp_path / "pipeline.star").write_text(
        'load("ci/lib/helpers.star", "wrap")\n\nwrap("a")\n')
    result = plan(tmp_path)
    assert result.code == 1
    helpers = str(tmp_path / "ci" / "lib" / "helpers.star")
    pipeline = str(tmp_path / "pipeline.star")
    assert first_line(result) == f"{helpers}:2:9: error: Floor division by zero: 1 // 0"
    stack = [line.strip() for line in result.stderr.splitlines() if " in " in line]
    assert stack == [f"{pipeline}:3 in <module>", f"{helpers}:6 in wrap",
                     f"{helpers}:2:9 in make"]


CALL_MISTAKES: dict[str, tuple[str, str]] = {
    "misspelt keyword of a prelude builtin": (
        'changed_files(frm = "HEAD^")\n',
        "changed_files() has no parameter 'frm' (did you mean 'from_ref'?)"),
    "misspelt keyword of a Python builtin": (
        'git_info(dir = ".")\n',
        "git_info() has no parameter 'dir' (did you mean 'base_dir'?)"),
    "missing parameter": ("is_job_running()\n",
                          "is_job_running() is missing its parameter 'job_name'"),
    "missing parameter of the prelude": ("trigger_job()\n",
                                         "trigger_job() is missing its parameter 'job_name'"),
    "positional argument of the wrong type": (
        'range("a")\n', 'range(): argument 1 must be an int, not a string ("a")'),
    "an int out of the binding's range": (
        "range(10000000000)\n", "range(): argument 1 must be an int from -2147483648 to "
        "2147483647"),
    "an index out of the binding's range": (
        "[1][10000000000]\n", "the integer 10000000000 is too big here (at most 2147483647)"),
    "too many positional arguments": (
        "changed_files(1, 2, 3, 4)\n",
        "changed_files() was given 1 positional argument too many"),
    "wrong type for a named parameter": (
        '"a".replace(1, 2)\n',
        "replace(): parameter 'old' must be a string, not an int (1)"),
    "a job field typo": ('trigger_job("a", containr_image = "x")\n',
                         "job \"a\": unknown field 'containr_image' "
                         "(did you mean 'container_image'?)"),
    "a scope of the wrong type": ('get_job_result("a", scope = 3)\n',
                                  'get_job_result: scope must be "workflow", "project" or '
                                  '"all", not an int'),
}


@pytest.mark.parametrize("case", CALL_MISTAKES.values(), ids=CALL_MISTAKES.keys())
def test_call_mistakes_are_said_in_the_pipelines_terms(tmp_path: Path,
                                                       case: tuple[str, str]) -> None:
    text, message = case
    (tmp_path / "pipeline.star").write_text(text)
    result = plan(tmp_path)
    assert result.code == 1
    assert first_line(result).split(": error: ", 1)[1] == message
    assert not INTERNALS.search(result.stderr), result.stderr


UNCLOSED: dict[str, tuple[str, str]] = {
    "call left open mid-file": ('a = 1\ntrigger_job("a"\nb = 2\ntrigger_job("b")\n',
                                ":3:1: error: Parse error: unexpected identifier 'b' here "
                                "(the '(' at 2:12 is never closed)"),
    "list left open mid-file": ("x = [1,\ny = 2\n", "(the '[' at 1:5 is never closed)"),
    "wrong closer": ('x = {"a": [1, 2}\n', "(the '[' at 1:11 is never closed)"),
}


@pytest.mark.parametrize("case", UNCLOSED.values(), ids=UNCLOSED.keys())
def test_an_unclosed_bracket_mid_file_is_named(tmp_path: Path, case: tuple[str, str]) -> None:
    text, expected = case
    (tmp_path / "pipeline.star").write_text(text)
    result = plan(tmp_path)
    assert result.code == 1
    assert expected in first_line(result)
    # No dump of every token the parser expected.
    assert len(first_line(result).split(": error: ", 1)[1]) < 120


def test_a_growing_program_is_stopped_at_its_line_by_the_memory_limit(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(
        "def f():\n    x = []\n    for i in range(100000000):\n"
        "        x.append(str(i) * 10)\nf()\n")
    (tmp_path / "policy.toml").write_text(
        "[limits]\nmemory_mb = 256\nwall_seconds = 60\ncpu_seconds = 60\n")
    result = plan(tmp_path, "--policy", str(tmp_path / "policy.toml"))
    assert result.code == 1, result.output
    # The watch stops the loop at its header or in its body, whichever step it is on.
    assert re.match(r".*pipeline\.star:[34]:\d+: error: memory limit of 256 MiB exceeded$",
                    first_line(result)), result.stderr


def test_a_busy_loop_reports_the_wall_clock_every_run(tmp_path: Path) -> None:
    # CPU and wall budgets equal (as by default): the wall clock is the limit reported,
    # whatever share of a core the run got.
    (tmp_path / "pipeline.star").write_text(
        "def f():\n    for i in range(1000000000):\n        n = i\nf()\n")
    (tmp_path / "policy.toml").write_text("[limits]\nwall_seconds = 1\ncpu_seconds = 1\n")
    for _ in range(3):
        result = plan(tmp_path, "--policy", str(tmp_path / "policy.toml"))
        assert result.code == 1
        assert first_line(result).endswith(":3:9: error: wall-clock limit of 1 s exceeded") \
            or first_line(result).endswith(":2:5: error: wall-clock limit of 1 s exceeded"), \
            result.stderr


def test_a_ref_typo_suggests_the_closest_existing_ref(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", [{"pipeline.star": 'changed_files("origin/mian")\n'},
                                      {"f": "1"}])
    add_origin(repo)
    result = plan(repo.path)
    assert result.code == 1
    assert "did you mean 'origin/main'?" in first_line(result), result.stderr


POLICY_SLIPS: dict[str, tuple[str, str]] = {
    "a choice": ('[git]\non_missing_history = 3\n',
                 "git.on_missing_history must be one of: error, all_changed, "
                 "got the integer 3"),
    "an integer": ('[jobs]\nmax_priority = "x"\n',
                   "jobs.max_priority must be an integer, got the string 'x'"),
    "a boolean": ("[load]\nenabled = 1\n", "load.enabled must be a boolean, got the integer 1"),
}


@pytest.mark.parametrize("case", POLICY_SLIPS.values(), ids=POLICY_SLIPS.keys())
def test_policy_errors_are_grammatical(tmp_path: Path, case: tuple[str, str]) -> None:
    text, message = case
    (tmp_path / "policy.toml").write_text(text)
    result = run_cli("policy", "show", "--policy", tmp_path / "policy.toml")
    assert result.code == 2
    assert first_line(result) == f"{tmp_path / 'policy.toml'}: error: {message}"


def test_a_job_breaking_several_rules_names_them_all(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text(
        'trigger_job("a", env = {"REACTORCIDE_X": "1"}, priority = "x",\n'
        '            container_image = "docker.io/evil")\n')
    (tmp_path / "policy.toml").write_text('[jobs]\nallowed_images = ["registry.example.com/*"]\n')
    result = plan(tmp_path, "--policy", str(tmp_path / "policy.toml"))
    assert result.code == 1
    message = first_line(result).split(": error: ", 1)[1]
    assert message == ("job \"a\": env key 'REACTORCIDE_X' uses the reserved prefix "
                       "'REACTORCIDE_'; priority must be an int, got string; container_image "
                       "'docker.io/evil' is not allowed by the policy (jobs.allowed_images)")


def test_capabilities_of_a_file_that_does_not_tokenize_still_over_approximate(
        tmp_path: Path) -> None:
    (tmp_path / "p.star").write_text('is_job_running("deploy")\nx = """never closed\n')
    result = run_cli("check", "--capabilities", "p.star", cwd=tmp_path)
    assert result.code == 0, result.output
    assert "    is_job_running   coordinator (reads jobs)" in result.stdout


def test_a_corrupt_triggers_file_is_reported_before_the_pipeline_runs(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text('print("evaluated")\ntrigger_job("a")\n')
    (tmp_path / "triggers.json").write_text("{not json")
    result = run_cli("--src", tmp_path, "--triggers-file", tmp_path / "triggers.json")
    assert result.code == 2
    assert first_line(result).startswith(f"{tmp_path / 'triggers.json'}: error: ")
    assert "evaluated" not in result.stderr
    assert "used:" not in result.stderr
    assert (tmp_path / "triggers.json").read_text() == "{not json"


def test_errors_raised_by_builtins_in_a_loaded_file_point_into_it(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "jobs.star").write_text(
        'def job(name):\n    return trigger_job(name, containr_image = "x")\n\n'
        'def stop():\n    fail("stopped")\n')
    (tmp_path / "pipeline.star").write_text('load("lib/jobs.star", "job", "stop")\n'
                                            'job("a")\n')
    result = plan(tmp_path)
    jobs = str(tmp_path / "lib" / "jobs.star")
    assert first_line(result).startswith(f"{jobs}:2:12: error: job \"a\": unknown field")
    assert f"    {jobs}:2:12 in job" in result.stderr
    (tmp_path / "pipeline.star").write_text('load("lib/jobs.star", "job", "stop")\nstop()\n')
    result = plan(tmp_path)
    assert first_line(result) == f"{jobs}:5:5: error: fail: stopped"
