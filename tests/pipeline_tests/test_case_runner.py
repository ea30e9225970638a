"""`python -m engine test`: pipeline test cases, run through the real sandbox and policy.

Each scenario writes a pipeline and case files into a directory, runs `engine test` on
it, and checks the report: one `FAIL path: reason` line per failing case followed by an
indented diff, then `N passed, M failed`, and the exit code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, Result, run_cli
from tests.support.gitrepo import make_repo

EXAMPLES = REPO_ROOT / "examples"

CHANGES_PIPELINE = """\
for c in changes():
    print("%s %s %s" % (c["status"], c["path"], c["old_path"]))
print("files: " + ",".join(changed_files()))
if changes_include("docs/**"):
    trigger_job("docs")
if changes_only("docs/**", "*.md"):
    print("docs only")
print("pr: " + ",".join(changed_files("origin/main...HEAD")))
"""

REPOSITORY_PIPELINE = """\
info = git_info()
print("head %s %s %s %s" % (info["branch"], info["short_commit"], info["tag"], info["remote_url"]))
print("ctx %s %s" % (ctx.branch, ctx.commit))
print("changed: " + ",".join(changed_files("origin/main", "HEAD")))
trigger_job("t", env = {"C": ctx.commit})
"""
REPOSITORY = """\
[repository]
branch = "feature/x"
origin = { main = 1 }
tags = [{ name = "v1", at = 2, message = "one" }, { name = "light" }]
remote_url = "https://example.invalid/shop.git"

[[repository.commits]]
"a.txt" = "a\\n"
"gone.txt" = "x\\n"

[[repository.commits]]
"b.txt" = "b\\n"

[[repository.commits]]
"gone.txt" = false
"dir/c.txt" = "c\\n"
"""
# The same table gives this last commit on every machine (fixed author, dates, messages).
REPOSITORY_HEAD = "a9ed92cacf9950c02199460729e981efe1eb2520"

COORDINATOR_PIPELINE = """\
last = get_job_result("deploy")
print("last: %s %s %s" % (last["status"], last["exit_code"], last["job_id"]))
if not is_job_running("deploy"):
    trigger_job("deploy", env = {"C": ctx.commit, "B": ctx.branch, "J": ctx.job_id or ""})
"""


@dataclass(frozen=True)
class Scenario:
    """Files to write, extra arguments, the exit code, and lines the report must hold
    (`report`: these, in order, as whole lines; `contains`: anywhere)."""

    files: dict[str, str]
    code: int
    report: tuple[str, ...]
    contains: tuple[str, ...] = ()
    args: tuple[str, ...] = ()


def case(body: str, pipeline: str = "pipeline.star") -> str:
    return f'pipeline = "{pipeline}"\n{body}'


SCENARIOS: dict[str, Scenario] = {
    "inline jobs pass": Scenario(
        {"pipeline.star": 'trigger_job("a", env = {"X": "1"})\n'
                          'trigger_job("b", depends_on = ["a"], condition = "always")\n',
         "ok.toml": case('[[expect.jobs]]\njob_name = "a"\nenv = { X = "1" }\n'
                         '[[expect.jobs]]\njob_name = "b"\ndepends_on = ["a"]\n'
                         'condition = "always"\n')},
        0, ("1 passed, 0 failed",)),
    "inline jobs differ": Scenario(
        {"pipeline.star": 'trigger_job("a", timeout = 60)\n',
         "bad.toml": case('expect.jobs = [{ job_name = "a", timeout = 30 }]\n')},
        1, ("FAIL bad.toml: the jobs differ from expect.jobs", "    --- expected",
            "    +++ produced", "0 passed, 1 failed"),
        contains=('-    "timeout": 30', '+    "timeout": 60')),
    "changes, statuses, ranges and globs": Scenario(
        {"pipeline.star": CHANGES_PIPELINE,
         "c.toml": case('[git]\nchanges = ["a.md", { path = "docs/new.md", status = "renamed",'
                        ' old_path = "docs/old.md" }]\n'
                        '[git.ranges]\n"origin/main...HEAD" = ["x.py"]\n'
                        '[expect]\njobs = [{ job_name = "docs" }]\noutput = ['
                        '"modified a.md None", "renamed docs/new.md docs/old.md", '
                        '"files: a.md,docs/new.md,docs/old.md", "docs only", "pr: x.py"]\n')},
        0, ("1 passed, 0 failed",)),
    "coordinator and ctx": Scenario(
        {"pipeline.star": COORDINATOR_PIPELINE,
         "c.toml": case('[env]\nREACTORCIDE_JOB_ID = "j-9"\n'
                        '[git]\nbranch = "main"\ncommit = "abc"\n'
                        '[coordinator.results.deploy]\nstatus = "failed"\nexit_code = 3\n'
                        '[expect]\njobs = [{ job_name = "deploy", '
                        'env = { C = "abc", B = "main", J = "j-9" } }]\n'
                        'output = ["last: failed 3 deploy-1"]\n')},
        0, ("1 passed, 0 failed",)),
    "a running job": Scenario(
        {"pipeline.star": COORDINATOR_PIPELINE,
         "c.toml": case('[coordinator]\nrunning = ["deploy"]\n'
                        '[coordinator.results.deploy]\nstatus = "completed"\n'
                        '[expect]\njobs = []\n')},
        0, ("1 passed, 0 failed",)),
    "expected error": Scenario(
        {"pipeline.star": 'is_job_running("x")\n',
         "unconfigured.toml": case('expect.error = "REACTORCIDE_COORDINATOR_URL is not set"\n'),
         "failing.toml": case('coordinator.error = "coordinator down"\n'
                              'expect.error = "coordinator down"\n'),
         "missing.toml": case('git.missing = ["HEAD^"]\nexpect.error = "x"\n',
                              "other.star"),
         "other.star": "changed_files()\n"},
        1, ("FAIL missing.toml: the run failed, but not with 'x'", "2 passed, 1 failed"),
        contains=("    other.star:1:1: error: changed_files: unknown git ref 'HEAD^'",)),
    "expected an error, got jobs": Scenario(
        {"pipeline.star": 'trigger_job("a")\n', "e.toml": case('expect.error = "boom"\n')},
        1, ("FAIL e.toml: expected an error containing 'boom', but the run succeeded with "
            "1 job", "0 passed, 1 failed")),
    "unexpected failure": Scenario(
        {"pipeline.star": 'fail("no")\n', "f.toml": case("expect.jobs = []\n")},
        1, ("FAIL f.toml: the run failed", "    pipeline.star:1:1: error: fail: no",
            "0 passed, 1 failed")),
    "output missing": Scenario(
        {"pipeline.star": 'print("hello")\n',
         "o.toml": case('expect.jobs = []\nexpect.output = ["goodbye"]\n')},
        1, ("FAIL o.toml: the output lacks 'goodbye'", "    hello", "0 passed, 1 failed")),
    "policy of the case": Scenario(
        {"pipeline.star": 'trigger_job("a", priority = 50)\n',
         "strict.toml": "[jobs]\nmax_priority = 10\n",
         "p.toml": case('policy = ["strict.toml"]\nexpect.error = "priority"\n')},
        0, ("1 passed, 0 failed",)),
    "policy of the command line": Scenario(
        {"pipeline.star": 'trigger_job("a", priority = 50)\n',
         "strict.policy": "[jobs]\nmax_priority = 10\n",
         "p.toml": case('expect.jobs = [{ job_name = "a", priority = 50 }]\n')},
        1, ("FAIL p.toml: the run failed", "0 passed, 1 failed"),
        args=("--policy", "strict.policy")),
    "existing triggers file": Scenario(
        {"pipeline.star": 'trigger_job("new", depends_on = ["old"])\n',
         "old.json": json.dumps({"type": "trigger_job", "operation_id": "o", "jobs": [
             {"job_name": "old", "depends_on": [], "condition": "all_success", "env": {}}]}),
         "x.toml": case('existing = "old.json"\n'
                        'expect.jobs = [{ job_name = "new", depends_on = ["old"] }]\n')},
        0, ("1 passed, 0 failed",)),
    "load() from the source directory": Scenario(
        {"ci/pipeline.star": 'load("//lib/jobs.star", "J")\ntrigger_job(J)\n',
         "ci/lib/jobs.star": 'J = "from-lib"\n',
         "cases/l.toml": case('expect.jobs = [{ job_name = "from-lib" }]\n',
                              "../ci/pipeline.star")},
        0, ("1 passed, 0 failed",)),
    "a real repository": Scenario(
        {"pipeline.star": REPOSITORY_PIPELINE,
         "r.toml": case(f'[expect]\noutput = ["head feature/x a9ed92c light '
                        'https://example.invalid/shop.git", '
                        f'"ctx feature/x {REPOSITORY_HEAD}", '
                        '"changed: b.txt,dir/c.txt,gone.txt"]\n'
                        f'jobs = [{{ job_name = "t", env = {{ C = "{REPOSITORY_HEAD}" }} }}]\n'
                        + REPOSITORY),
         "detached.toml": case('[env]\nREACTORCIDE_GIT_COMMIT = "given"\n[expect]\noutput = '
                               '["head None a9ed92c light", "ctx None given"]\n'
                               'jobs = [{ job_name = "t", env = { C = "given" } }]\n'
                               + REPOSITORY.replace("[repository]\n",
                                                    "[repository]\ndetached = true\n"))},
        0, ("2 passed, 0 failed",)),
    "the operator's git policy applies to a real repository": Scenario(
        {"pipeline.star": 'print("changed: " + ",".join(changed_files("origin/main")))\n',
         "all.policy": '[git]\non_missing_history = "all_changed"\n',
         "r.toml": case('[expect]\noutput = ["changed: a.txt,b.txt"]\njobs = []\n'
                        '[repository]\n[[repository.commits]]\n"a.txt" = "a"\n'
                        '[[repository.commits]]\n"b.txt" = "b"\n')},
        0, ("1 passed, 0 failed",), args=("--policy", "all.policy")),
    "invalid repository tables": Scenario(
        {"pipeline.star": 'trigger_job("a")\n',
         "both.toml": case('git.branch = "main"\nrepository.commits = [{ a = "x" }]\n'),
         "none.toml": case("repository.commits = []\n"),
         "number.toml": case("repository.commits = [{ a = 1 }]\n"),
         "escape.toml": case('repository.commits = [{ "../a" = "x" }]\n'),
         "dotgit.toml": case('repository.commits = [{ ".git/config" = "x" }]\n'),
         "tag.toml": case('repository.commits = [{ a = "x" }]\n'
                          'repository.tags = [{ name = "v1", at = 2 }]\n'),
         "origin.toml": case('repository.commits = [{ a = "x" }]\n'
                             'repository.origin = { "a b" = 1 }\n'),
         "key.toml": case('repository.commits = [{ a = "x" }]\nrepository.detach = true\n')},
        1, ("0 passed, 8 failed",),
        contains=("FAIL both.toml: invalid test case: give [git] (answers) or [repository] (a "
                  "real repository to ask), not both",
                  "FAIL none.toml: invalid test case: repository.commits must list at least "
                  "one commit",
                  "FAIL number.toml: invalid test case: repository.commits[0].'a' must be the "
                  "file's text, or false to delete it",
                  "FAIL escape.toml: invalid test case: repository.commits[0]: '../a' is not a "
                  "relative path inside the repository",
                  "FAIL dotgit.toml: invalid test case: repository.commits[0]: '.git/config' is "
                  "not a relative path inside the repository",
                  "FAIL tag.toml: invalid test case: repository.tags[0].at must be a commit "
                  "number from 1 to 1",
                  "FAIL origin.toml: invalid test case: repository.origin.a b must be a git "
                  "branch or tag name, not 'a b'",
                  "FAIL key.toml: invalid test case: unknown key repository.detach (did you "
                  "mean 'detached'?)")),
    "invalid cases": Scenario(
        {"pipeline.star": 'trigger_job("a")\n',
         "typo.toml": case('[expect]\njob = []\n'),
         "status.toml": case('git.changes = [{ path = "a", status = "gone" }]\n'),
         "secret.toml": case('env.REACTORCIDE_API_TOKEN = "x"\n'),
         "nopipe.toml": case("expect.jobs = []\n", "absent.star"),
         "both.toml": case('expect.jobs = []\nexpect.error = "x"\n'),
         "badjob.toml": case('expect.jobs = [{ job_name = "a", nope = 1 }]\n'),
         "broken.toml": "pipeline = \n"},
        1, ("0 passed, 7 failed",),
        contains=("FAIL typo.toml: invalid test case: unknown key expect.job (did you mean "
                  "'jobs'?)",
                  "FAIL status.toml: invalid test case: git.changes[0].status must be one of",
                  "FAIL secret.toml: invalid test case: env.REACTORCIDE_API_TOKEN: a case "
                  "holds no secrets",
                  "FAIL nopipe.toml: invalid test case: absent.star: pipeline file not found",
                  "FAIL both.toml: invalid test case: expect: give one of jobs, golden and "
                  "error, not jobs and error",
                  "FAIL badjob.toml: invalid test case: expect.jobs[0]: job \"a\": unknown",
                  "FAIL broken.toml: invalid test case: not valid TOML")),
    "files outside case directories are not looked at": Scenario(
        {"cases/pipeline.star": 'trigger_job("a")\n',
         "cases/c.toml": case('expect.jobs = [{ job_name = "a" }]\n'),
         "pyproject.toml": '[project]\nname = "x"\n', "data/data.json": '{"a": 1}',
         "cases/notes.txt": "prose", ".hidden/h.toml": case("expect.jobs = []\n")},
        0, ("1 passed, 0 failed",)),
    "a case with a typo is never skipped": Scenario(
        {"pipeline.star": 'trigger_job("a")\n',
         "good.toml": case('expect.jobs = [{ job_name = "a" }]\n'),
         "typo.toml": 'pipelin = "pipeline.star"\nexpect.jobs = []\n',
         "stray.json": '{"a": 1}'},
        1, ("FAIL stray.json: not a test case: not a transcript, and no case refers to this "
            "file (as its golden or existing triggers file)",
            "FAIL typo.toml: invalid test case: unknown key pipelin (did you mean "
            "'pipeline'?) (and no case refers to this file as its policy)",
            "1 passed, 2 failed")),
}


def write_files(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def engine_test(root: Path, *args: str | Path) -> Result:
    return run_cli("test", *args, cwd=root)


def assert_in_order(lines: list[str], wanted: tuple[str, ...]) -> None:
    remaining = iter(lines)
    for line in wanted:
        assert any(candidate == line for candidate in remaining), (line, lines)


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_report(tmp_path: Path, scenario: Scenario) -> None:
    write_files(tmp_path, scenario.files)

    result = engine_test(tmp_path, *scenario.args)

    assert result.code == scenario.code, result.output
    lines = result.stdout.splitlines()
    assert_in_order(lines, scenario.report)
    for text in scenario.contains:
        assert any(text in line for line in lines), (text, result.stdout)
    assert lines[-1] == scenario.report[-1]
    assert sum(line.startswith("FAIL ") for line in lines) == int(lines[-1].split()[2])


# --- goldens -------------------------------------------------------------------------


def test_golden_lifecycle(tmp_path: Path) -> None:
    """Missing golden fails; --update writes it; a change fails with a diff; a run with no
    jobs has an empty golden."""
    write_files(tmp_path, {"pipeline.star": 'trigger_job("a")\n',
                           "g.toml": 'pipeline = "pipeline.star"\n',
                           "none.toml": 'pipeline = "empty.star"\n', "empty.star": "x = 1\n"})
    golden = tmp_path / "g.triggers.json"

    missing = engine_test(tmp_path)
    assert missing.code == 1
    assert "FAIL g.toml: no golden file g.triggers.json (run with --update to write " \
           "it)" in missing.stdout

    updated = engine_test(tmp_path, "--update")
    assert updated.code == 0, updated.output
    assert updated.stdout.splitlines() == ["updated g.triggers.json",
                                           "updated none.triggers.json", "2 passed, 0 failed"]
    assert json.loads(golden.read_text())["jobs"][0]["job_name"] == "a"
    assert (tmp_path / "none.triggers.json").read_bytes() == b""
    assert engine_test(tmp_path).stdout == "2 passed, 0 failed\n"

    (tmp_path / "pipeline.star").write_text('trigger_job("b")\n')
    stale = engine_test(tmp_path)
    assert stale.code == 1
    lines = stale.stdout.splitlines()
    assert lines[0] == "FAIL g.toml: the triggers document differs from g.triggers.json"
    assert '-      "job_name": "a",' in [line[4:] for line in lines]
    assert '+      "job_name": "b",' in [line[4:] for line in lines]


def test_repositories_are_removed_when_the_run_ends(tmp_path: Path) -> None:
    write_files(tmp_path, {"pipeline.star": REPOSITORY_PIPELINE,
                           "r.toml": case("expect.jobs = []\n" + REPOSITORY),
                           "same.toml": case("expect.jobs = []\n" + REPOSITORY)})
    (tmp_path / "tmp").mkdir()

    result = run_cli("test", cwd=tmp_path, env={"TMPDIR": str(tmp_path / "tmp")})

    assert result.code == 1, result.output
    assert result.stdout.endswith("0 passed, 2 failed\n")
    assert list((tmp_path / "tmp").iterdir()) == []


def test_golden_is_byte_exact_with_ingest(tmp_path: Path) -> None:
    """A golden holds what ingest writes for the same inputs, operation_id included."""
    src = tmp_path / "src"
    repo = make_repo(src, [{"a.py": "1\n"}, {"a.py": "2\n", "pipeline.star":
                                            'trigger_job("t", env = {"F": ",".join('
                                            'changed_files()), "C": ctx.commit})\n'}])
    run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "t.json",
               env={"REACTORCIDE_JOB_ID": "j1", "REACTORCIDE_GIT_BRANCH": "main"})
    write_files(tmp_path, {"c.toml": 'pipeline = "src/pipeline.star"\n'
                                     '[env]\nREACTORCIDE_JOB_ID = "j1"\n'
                                     'REACTORCIDE_GIT_BRANCH = "main"\n'
                                     f'[git]\ncommit = "{repo.head()}"\n'
                                     'changes = ["a.py", { path = "pipeline.star", '
                                     'status = "added" }]\n'})
    assert engine_test(tmp_path, "c.toml", "--update").code == 0
    assert (tmp_path / "c.triggers.json").read_bytes() == (tmp_path / "t.json").read_bytes()


# --- transcripts are cases -------------------------------------------------------------


def test_a_recorded_run_is_a_test_case(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_repo(src, [{"a.py": "1\n"}, {"a.py": "2\n", "pipeline.star":
                                     'trigger_job("t", env = {"F": ",".join(changed_files())})\n'}])
    transcript = tmp_path / "cases" / "run.json"
    transcript.parent.mkdir()
    record = run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "t.json",
                        "--record", transcript, env={"REACTORCIDE_BRANCH": "main"})
    assert record.code == 0, record.output

    assert engine_test(tmp_path, "cases").stdout == "1 passed, 0 failed\n"

    data = json.loads(transcript.read_text())
    data["answers"][0]["value"] = ["b.py"]
    transcript.write_text(json.dumps(data))
    drifted = engine_test(tmp_path, "cases", "--update")
    assert drifted.code == 1
    lines = drifted.stdout.splitlines()
    assert lines[0] == "FAIL cases/run.json: the replay differs from the recorded run"
    assert '-        "F": "a.py,pipeline.star"' in [line[4:] for line in lines]
    assert '+        "F": "b.py"' in [line[4:] for line in lines]
    assert json.loads(transcript.read_text()) == data  # --update never rewrites a transcript


# --- the shipped examples ----------------------------------------------------------------


def test_the_example_cases_pass() -> None:
    result = run_cli("test", "examples/tests")
    assert result.code == 0, result.output
    count = len(list((EXAMPLES / "tests").rglob("*.toml"))) + len(
        list((EXAMPLES / "tests").rglob("*.transcript.json")))
    assert result.stdout == f"{count} passed, 0 failed\n"


def test_every_example_pipeline_has_cases() -> None:
    pipelines = {p.stem for p in (EXAMPLES / "pipelines").glob("*.star")}
    with_cases = {p.name for p in (EXAMPLES / "tests").iterdir()
                  if p.is_dir() and any(p.glob("*.toml"))}
    assert pipelines == with_cases
    for toml in (EXAMPLES / "tests").rglob("*.toml"):
        assert f'pipeline = "../../pipelines/{toml.parent.name}.star"' in toml.read_text()


def test_no_cases_is_a_usage_error(tmp_path: Path) -> None:
    result = engine_test(tmp_path)
    assert result.code == 2
    assert "no test cases found" in result.stderr

