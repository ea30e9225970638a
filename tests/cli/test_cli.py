"""The command line: exit codes, defaults, `check`, `plan`, help, and no Python tracebacks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_run import Result, run_cli

NO_GIT_ENV = {"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "b" * 40,
              "REACTORCIDE_GIT_REF": "refs/heads/main"}
LOCATED_ERROR = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$")


def assert_no_python_traceback(result: Result) -> None:
    """Neither stream shows a Python traceback."""
    for stream in (result.stdout, result.stderr):
        assert not ("Traceback (most recent call last)" in stream and 'File "' in stream), stream
        assert not re.search(r'^\s*File "[^"]+", line \d+', stream, re.M), stream


def cli(*args: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run the engine and check that no traceback leaked, whatever the outcome."""
    result = run_cli(*args, env={**NO_GIT_ENV, **(env or {})}, cwd=cwd)
    assert_no_python_traceback(result)
    return result


def write(path: Path, content: str | bytes) -> Path:
    """Create `path` (and its parents) with `content`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


# --- exit codes ----------------------------------------------------------------------

GOOD = 'trigger_job("a")\ntrigger_job("b", depends_on = ["a"])\n'


@dataclass(frozen=True)
class ExitCase:
    """A pipeline, an existing triggers file and arguments, with the expected exit code."""

    pipeline: str | bytes | None
    args: tuple[str, ...]
    code: int
    triggers: str | bytes | None = None
    stderr_prefix: str = ""


EXIT_CASES: dict[str, ExitCase] = {
    "success": ExitCase(GOOD, (), 0),
    "success, no jobs": ExitCase("x = 1\n", (), 0),
    "fail()": ExitCase('fail("stop")\n', (), 1, stderr_prefix="pipeline.star:1:1: error: "),
    "syntax error": ExitCase("x = )\n", (), 1, stderr_prefix="pipeline.star:1:5: error: "),
    "bracket never closed": ExitCase('a = 1\ntrigger_job("a"\n\n# end\n', (), 1,
                                     stderr_prefix="pipeline.star:2:16: error: "),
    "block missing at the end": ExitCase("a = 1\ndef f():\n", (), 1,
                                         stderr_prefix="pipeline.star:2:9: error: "),
    "runtime error": ExitCase("x = 1 // 0\n", (), 1, stderr_prefix="pipeline.star:1:5: error: "),
    "validation error": ExitCase('trigger_job("a", nope = 1)\n', (), 1,
                                 stderr_prefix="pipeline.star:1:1: error: "),
    "not utf-8": ExitCase(b"x = '\xff'\n", (), 1, stderr_prefix="pipeline.star:1:6: error: "),
    "unknown option": ExitCase(GOOD, ("--bogus",), 2),
    "unknown option after plan": ExitCase(GOOD, ("plan", "--bogus"), 2),
    "bad plan format": ExitCase(GOOD, ("plan", "--format", "yaml"), 2),
    "unknown subcommand-like": ExitCase(GOOD, ("deploy",), 2),
    "missing pipeline": ExitCase(None, (), 2, stderr_prefix="pipeline.star: error: "),
    "corrupt triggers file": ExitCase(GOOD, (), 2, triggers="{not json",
                                      stderr_prefix="triggers.json: error: "),
    "triggers file is a JSON list": ExitCase(GOOD, (), 2, triggers="[]",
                                             stderr_prefix="triggers.json: error: "),
    "check without files": ExitCase(GOOD, ("check",), 2),
    "check missing file": ExitCase(GOOD, ("check", "absent.star"), 2,
                                   stderr_prefix="absent.star: error: "),
    "replay without a file": ExitCase(GOOD, ("replay",), 2),
    "replay of two files": ExitCase(GOOD, ("replay", "a.json", "b.json"), 2),
    "replay of a missing file": ExitCase(GOOD, ("replay", "absent.json"), 2,
                                         stderr_prefix="absent.json: error: "),
    "record with plan": ExitCase(GOOD, ("plan", "--record", "r.json"), 2),
}


@pytest.mark.parametrize("case", EXIT_CASES.values(), ids=EXIT_CASES.keys())
def test_exit_codes(tmp_path: Path, case: ExitCase) -> None:
    if case.pipeline is not None:
        write(tmp_path / "pipeline.star", case.pipeline)
    if case.triggers is not None:
        write(tmp_path / "triggers.json", case.triggers)
    before = (tmp_path / "triggers.json").read_bytes() if case.triggers is not None else None
    base = ("--pipeline", "pipeline.star", "--src", ".", "--triggers-file", "triggers.json")
    standalone = case.args[:1] in (("check",), ("replay",))
    args = case.args if standalone else (*case.args, *base)

    result = cli(*args, cwd=tmp_path)

    assert result.code == case.code, result.output
    if case.code:
        assert result.stderr.startswith(case.stderr_prefix), result.stderr
        assert ": error: " in result.stderr.splitlines()[0]
    if before is not None:
        assert (tmp_path / "triggers.json").read_bytes() == before
    elif case.code:
        assert not (tmp_path / "triggers.json").exists()


@pytest.mark.parametrize("kind", ["directory", "missing directory"])
def test_unusable_triggers_path_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    write(tmp_path / "src" / "pipeline.star", GOOD)
    target = tmp_path / "triggers.json"
    if kind == "directory":
        target.mkdir()
    else:
        target = tmp_path / "nowhere" / "triggers.json"
    result = cli("--src", tmp_path / "src", "--triggers-file", target)
    assert result.code == 2, result.output
    assert result.stderr.startswith(f"{target}: error: ")


# --- default command and defaults from the environment --------------------------------


def test_no_subcommand_means_ingest(tmp_path: Path) -> None:
    write(tmp_path / "src" / "pipeline.star", GOOD)
    implicit, explicit = tmp_path / "implicit.json", tmp_path / "explicit.json"

    first = cli("--src", tmp_path / "src", "--triggers-file", implicit)
    second = cli("ingest", "--src", tmp_path / "src", "--triggers-file", explicit)

    assert first.code == second.code == 0
    assert implicit.read_bytes() == explicit.read_bytes()
    assert first.stdout.replace(str(implicit), "F") == second.stdout.replace(str(explicit), "F")


def test_no_subcommand_accepts_dry_run(tmp_path: Path) -> None:
    write(tmp_path / "src" / "pipeline.star", GOOD)
    result = cli("--src", tmp_path / "src", "--triggers-file", tmp_path / "t.json", "--dry-run")
    assert result.code == 0
    assert not (tmp_path / "t.json").exists()


def test_defaults_come_from_the_environment(tmp_path: Path) -> None:
    src = tmp_path / "code"
    write(src / "pipeline.star", GOOD)
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()

    result = cli(env={"REACTORCIDE_CODE_DIR": str(src),
                      "REACTORCIDE_TRIGGERS_FILE": str(triggers)}, cwd=elsewhere)

    assert result.code == 0, result.output
    assert [j["job_name"] for j in json.loads(triggers.read_text())["jobs"]] == ["a", "b"]
    assert list(elsewhere.iterdir()) == []


def test_options_override_the_environment(tmp_path: Path) -> None:
    write(tmp_path / "env-src" / "pipeline.star", 'trigger_job("from-env")\n')
    write(tmp_path / "opt-src" / "pipeline.star", 'trigger_job("from-option")\n')
    env_file, opt_file = tmp_path / "env.json", tmp_path / "opt.json"

    result = cli("--src", tmp_path / "opt-src", "--triggers-file", opt_file,
                 env={"REACTORCIDE_CODE_DIR": str(tmp_path / "env-src"),
                      "REACTORCIDE_TRIGGERS_FILE": str(env_file)})

    assert result.code == 0, result.output
    assert not env_file.exists()
    assert json.loads(opt_file.read_text())["jobs"][0]["job_name"] == "from-option"


def test_missing_default_src_names_the_pipeline_path(tmp_path: Path) -> None:
    result = cli(env={"REACTORCIDE_CODE_DIR": str(tmp_path / "nope"),
                      "REACTORCIDE_TRIGGERS_FILE": str(tmp_path / "t.json")})
    assert result.code == 2
    assert result.stderr.startswith(f"{tmp_path / 'nope' / 'pipeline.star'}: error: ")


# --- check ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckCase:
    """Files to check, the exit code, and the problem lines expected (file:line:col, text)."""

    files: dict[str, str]
    code: int
    problems: tuple[tuple[str, str], ...] = ()


CHECK_CASES: dict[str, CheckCase] = {
    "clean": CheckCase({"ok.star": GOOD}, 0),
    "uses ctx in a condition": CheckCase(
        {"ok.star": 'if ctx.branch == "main":\n    trigger_job("deploy")\n'}, 0),
    "binds a ctx value": CheckCase(
        {"ok.star": 'branch = ctx.branch\ntrigger_job("a", env = {"B": branch or ""})\n'}, 0),
    "fail at top level is not run": CheckCase({"f.star": 'fail("x")\n'}, 0),
    "long loop is not run": CheckCase(
        {"loop.star": "n = 0\nfor i in range(1000000000):\n    n += i\nfail(str(n))\n"}, 0),
    "invalid job is found without running": CheckCase(
        {"j.star": 'trigger_job("a", nope = 1)\n'}, 1,
        (("j.star:1:18", "unknown field 'nope'"),)),
    "syntax error": CheckCase({"s.star": 'trigger_job("a")\n\ny = )\n'}, 1,
                              (("s.star:3:5", "Parse error"),)),
    "a file that loads itself": CheckCase(
        {"s.star": 'load("s.star", "A")\nA = 1\n'}, 1,
        (("s.star:1:1", "load cycle: s.star -> s.star"),)),
    "a cycle through two files": CheckCase(
        {"s.star": 'load("a.star", "A")\ntrigger_job(A)\n',
         "a.star": 'load("b.star", "B")\nA = B\n', "b.star": 'load("a.star", "A")\nB = "b"\n'},
        1, (("a.star:1:1", "load cycle: b.star -> a.star -> b.star"),
            ("b.star:1:1", "load cycle: a.star -> b.star -> a.star"))),
    "bracket never closed": CheckCase(
        {"s.star": 'x = ["(", "#",\n     1  # ]\n'}, 1,
        (("s.star:2:7", "the '[' at 1:5 is never closed"),)),
    "undefined function": CheckCase({"u.star": 'trigger_job("a")\nnot_defined("x")\n'}, 1,
                                    (("u.star:2:1", "not_defined"),)),
    "undefined value": CheckCase({"u.star": "x = 1\ny = nothing_here + 1\n"}, 1,
                                 (("u.star:2:5", "nothing_here"),)),
    "two undefined values": CheckCase({"u.star": "a = first_missing\nb = second_missing\n"}, 1,
                                      (("u.star:1:5", "first_missing"),
                                       ("u.star:2:5", "second_missing"))),
    "load of a missing file": CheckCase(
        {"l.star": 'load("lib.star", "helper")\ntrigger_job("a")\n'}, 1,
        (("l.star:1:1", "does not exist"),)),
    "load escaping the source": CheckCase(
        {"l.star": 'load("../lib.star", "helper")\ntrigger_job("a")\n'}, 1,
        (("l.star:1:1", "leaves the source directory"),)),
    "loaded file is checked too": CheckCase(
        {"m.star": 'load("lib.star", "helper")\nhelper()\n',
         "lib.star": "def helper():\n    return undefined_in_lib\n"}, 1,
        (("lib.star:2:12", "undefined_in_lib"),)),
    "load and undefined function": CheckCase(
        {"lu.star": 'load("lib.star", "helper")\nhelper()\nother()\n'}, 1,
        (("lu.star:1:1", "does not exist"), ("lu.star:3:1", "other"))),
    "several files": CheckCase(
        {"ok.star": GOOD, "s.star": "x = )\n", "u.star": 'missing_fn("a")\n',
         "l.star": 'load("x.star", "y")\n'}, 1,
        (("s.star:1:5", "Parse error"), ("u.star:1:1", "missing_fn"),
         ("l.star:1:1", "does not exist"))),
}


def _error_lines(stderr: str) -> list[tuple[str, str]]:
    out = []
    for line in stderr.splitlines():
        match = LOCATED_ERROR.match(line)
        if match:
            out.append((f"{match['file']}:{match['line']}:{match['col']}", match["msg"]))
    return out


@pytest.mark.parametrize("case", CHECK_CASES.values(), ids=CHECK_CASES.keys())
def test_check(tmp_path: Path, case: CheckCase) -> None:
    for name, text in case.files.items():
        write(tmp_path / name, text)

    result = cli("check", *case.files, cwd=tmp_path)

    assert result.code == case.code, result.output
    found = _error_lines(result.stderr)
    assert [where for where, _ in found] == [where for where, _ in case.problems]
    for (_, message), (_, needle) in zip(found, case.problems, strict=True):
        assert needle in message
    count = len(case.files)
    errors = sum(1 for line in result.stderr.splitlines() if ": error: " in line)
    assert result.stdout.startswith(f"checked {count} file{'s' if count > 1 else ''}: "
                                    f"{errors} error{'' if errors == 1 else 's'}, ")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(case.files)


# --- plan ----------------------------------------------------------------------------

Spec = list[tuple[str, list[str], str]]  # (name, depends_on, condition)

GRAPHS: dict[str, Spec] = {
    "single": [("only", [], "all_success")],
    "chain": [("a", [], "all_success"), ("b", ["a"], "all_success"),
              ("c", ["b"], "always")],
    "diamond": [("a", [], "all_success"), ("b", ["a"], "all_success"),
                ("c", ["a"], "all_success"), ("d", ["b", "c"], "any_failed")],
    "forward reference": [("late", ["early"], "always"), ("early", [], "all_success")],
    "wide fan-in": [*[(f"t{i}", [], "all_success") for i in range(5)],
                    ("report", [f"t{i}" for i in range(5)], "always")],
    "uneven": [("a", [], "all_success"), ("b", ["a"], "all_success"),
               ("c", ["b"], "all_success"), ("d", ["a", "c"], "any_failed"),
               ("e", [], "all_success"), ("f", ["e"], "always")],
}


def expected_stages(spec: Spec) -> list[set[str]]:
    """Dependency levels computed independently from the spec."""
    deps = {name: d for name, d, _ in spec}
    level: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in level:
            level[name] = 1 + max((of(d) for d in deps[name]), default=0)
        return level[name]

    for name in deps:
        of(name)
    return [{n for n in deps if level[n] == k} for k in range(1, max(level.values()) + 1)]


def pipeline_for(spec: Spec) -> str:
    """One trigger_job call per line, in spec order."""
    return "".join(
        f'trigger_job("{name}", depends_on = {json.dumps(deps)}, condition = "{cond}")\n'
        for name, deps, cond in spec
    )


PLAN_LINE = re.compile(
    r"^  (?P<name>\S+)\s+(?:after (?P<deps>.+?) \[(?P<cond>[^\]]+)\]\s+)?\((?P<loc>[^)]+)\)$"
)


def parse_plan_text(text: str) -> tuple[str, list[list[dict[str, Any]]]]:
    """The header line and, per stage, each job line's parts."""
    lines = text.splitlines()
    stages: list[list[dict[str, Any]]] = []
    for line in lines[1:]:
        if re.fullmatch(r"stage \d+", line):
            assert line == f"stage {len(stages) + 1}"
            stages.append([])
            continue
        match = PLAN_LINE.match(line)
        assert match, line
        stages[-1].append(match.groupdict())
    return lines[0], stages


@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
def test_plan_text(tmp_path: Path, spec: Spec) -> None:
    write(tmp_path / "pipeline.star", pipeline_for(spec))

    result = cli("plan", "--pipeline", "pipeline.star", "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)

    assert result.code == 0, result.output
    header, stages = parse_plan_text(result.stdout)
    levels = expected_stages(spec)
    assert header.startswith(f"{len(spec)} job{'s' if len(spec) > 1 else ''} in "
                             f"{len(levels)} stage")
    assert [{job["name"] for job in stage} for stage in stages] == levels
    by_name = {job["name"]: job for stage in stages for job in stage}
    for line, (name, deps, cond) in enumerate(spec, start=1):
        shown = by_name[name]
        assert shown["loc"] == f"pipeline.star:{line}:1"
        if deps:
            assert shown["deps"].split(", ") == deps
            assert shown["cond"] == cond
        else:
            assert shown["deps"] is None
    assert not (tmp_path / "triggers.json").exists()


@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
def test_plan_json(tmp_path: Path, spec: Spec) -> None:
    write(tmp_path / "pipeline.star", pipeline_for(spec))

    result = cli("plan", "--format", "json", "--pipeline", "pipeline.star", "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)

    assert result.code == 0, result.output
    doc = json.loads(result.stdout)
    levels = expected_stages(spec)
    assert [set(stage) for stage in doc["stages"]] == levels
    assert sum(len(stage) for stage in doc["stages"]) == len(spec)
    assert doc["triggers_file"] == "triggers.json"
    assert re.fullmatch(r"[0-9a-f-]{36}", doc["operation_id"])
    stage_of = {n: k for k, level in enumerate(levels, start=1) for n in level}
    assert [entry["job"]["job_name"] for entry in doc["jobs"]] == [n for n, _, _ in spec]
    for line, (entry, (name, deps, cond)) in enumerate(zip(doc["jobs"], spec, strict=True),
                                                       start=1):
        assert entry["stage"] == stage_of[name]
        assert entry["job"]["depends_on"] == deps
        assert entry["job"]["condition"] == cond
        assert entry["location"] == {"file": "pipeline.star", "line": line, "col": 1}
    assert not (tmp_path / "triggers.json").exists()


def test_plan_json_id_matches_what_ingest_writes(tmp_path: Path) -> None:
    spec = GRAPHS["diamond"]
    write(tmp_path / "pipeline.star", pipeline_for(spec))
    base = ("--pipeline", "pipeline.star", "--src", ".", "--triggers-file", "triggers.json")
    planned = json.loads(cli("plan", "--format", "json", *base, cwd=tmp_path).stdout)
    assert cli("ingest", *base, cwd=tmp_path).code == 0
    written = json.loads((tmp_path / "triggers.json").read_text())
    assert planned["operation_id"] == written["operation_id"]
    assert [entry["job"] for entry in planned["jobs"]] == written["jobs"]


def test_plan_dependencies_on_existing_jobs_do_not_delay(tmp_path: Path) -> None:
    write(tmp_path / "triggers.json", json.dumps({
        "type": "trigger_job", "operation_id": "x",
        "jobs": [{"job_name": "old", "depends_on": [], "condition": "all_success", "env": {}}],
    }))
    write(tmp_path / "pipeline.star",
          'trigger_job("new", depends_on = ["old"])\ntrigger_job("next", depends_on = ["new"])\n')
    result = cli("plan", "--format", "json", "--pipeline", "pipeline.star", "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["stages"] == [["new"], ["next"]]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_plan_reports_pipeline_errors(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "pipeline.star", 'trigger_job("a", depends_on = ["a"])\n')
    result = cli("plan", "--format", fmt, "--pipeline", "pipeline.star", "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)
    assert result.code == 1
    assert result.stderr.splitlines()[0] == "pipeline.star:1:1: error: dependency cycle: a -> a"
    if fmt == "text":
        assert result.stdout == ""
    else:  # machines get the same errors on stdout
        errors = json.loads(result.stdout)["errors"]
        assert [e["message"] for e in errors] == ["dependency cycle: a -> a"]


# --- help ----------------------------------------------------------------------------


@pytest.mark.parametrize("args", [("--help",), ("-h",), ("ingest", "--help"),
                                  ("plan", "--help"), ("check", "--help"),
                                  ("replay", "--help"), ("test", "--help")], ids=" ".join)
def test_help(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = cli(*args, cwd=tmp_path)
    assert result.code == 0
    assert result.stdout.startswith("usage: ")
    assert list(tmp_path.iterdir()) == []
