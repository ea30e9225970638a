"""`check` finds without running what a run would refuse (at the right column, with the
rule named), walks directories, always ends with a count, speaks JSON and GitHub
annotations, fails on warnings with --strict and honours inline suppressions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.engine_run import run_cli

REFUSED: dict[str, tuple[str, str, str]] = {
    # name: (pipeline, where, message)
    "unknown field": ('trigger_job("a", containr_image = "x")\n', "1:18",
                      "job \"a\": unknown field 'containr_image' (did you mean "
                      "'container_image'?) [unknown-field]"),
    "platform field": ('trigger_job("a", ci_origin = "x")\n', "1:18",
                       "job \"a\": field 'ci_origin' is set by the platform and may not be "
                       "set by a pipeline [unknown-field]"),
    "bad job name": ('trigger_job("bad name!")\n', "1:13", "[job-name]"),
    "non-string env value": ('trigger_job("c", env = {"A": 1})\n', "1:30",
                             "job \"c\": env['A'] must be a string, got int [env]"),
    "reserved env prefix": ('trigger_job("c", env = {"RC_WF_X": "y"})\n', "1:25",
                            "uses the reserved prefix 'RC_WF_' [env]"),
    "env key by position": ('trigger_job("c", {"1X": "y"})\n', "1:19", "[env]"),
    "bad condition": ('trigger_job("e", condition = "sometimes")\n', "1:30", "[condition]"),
    "timeout not an int": ('trigger_job("f", timeout = "x")\n', "1:18",
                           'job "f": timeout must be an int (seconds), got string [job-field]'),
    "literal duplicate": ('trigger_job("a")\ntrigger_job("a")\n', "2:1",
                          'job "a" is triggered twice (first at p.star:1:1) [duplicate-job]'),
    "literal cycle": ('trigger_job("d", depends_on = ["e"])\n'
                      'trigger_job("e", depends_on = ["d"])\n', "1:1",
                      "dependency cycle: d -> e -> d [dependency-cycle]"),
    "cycle through variables": ('a = trigger_job("a", depends_on = ["b"])\n'
                                'trigger_job("b", depends_on = [a])\n', "1:5",
                                "dependency cycle: a -> b -> a [dependency-cycle]"),
    "duplicate dependency": ('trigger_job("x")\ntrigger_job("a", depends_on = ["x", "x"])\n',
                             "2:31", "depends_on lists 'x' twice [depends-on]"),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_check_refuses_what_a_run_refuses(tmp_path: Path, case: tuple[str, str, str]) -> None:
    text, where, message = case
    (tmp_path / "p.star").write_text(text)
    checked = run_cli("check", "p.star", cwd=tmp_path)
    assert checked.code == 1, checked.output
    first = checked.stderr.splitlines()[0]
    assert first.startswith(f"p.star:{where}: error: "), checked.stderr
    assert message in first
    assert checked.stdout.startswith("checked 1 file: 1 error, ")
    ran = run_cli("plan", "--src", tmp_path, "--pipeline", tmp_path / "p.star",
                     env={"REACTORCIDE_GIT_BRANCH": "main", "REACTORCIDE_GIT_COMMIT": "c"})
    assert ran.code == 1, ran.output


ALLOWED: dict[str, str] = {
    "same name in both branches of an if": (
        'if ctx.branch == "main":\n    trigger_job("g")\nelse:\n    trigger_job("g")\n'),
    "computed values": 'n = "x"\ntrigger_job(n, env = {"K": n}, timeout = 60 * 2)\n',
    "a helper called once": 'def mk(n):\n    trigger_job(n)\nmk("a")\n',
}


@pytest.mark.parametrize("text", ALLOWED.values(), ids=ALLOWED.keys())
def test_what_a_run_may_accept_is_not_an_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "p.star").write_text(text)
    result = run_cli("check", "p.star", cwd=tmp_path)
    assert result.code == 0, result.output
    assert result.stdout == "checked 1 file: 0 errors, 0 warnings\n"


def tree(tmp_path: Path) -> None:
    (tmp_path / "ci" / "lib").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "pipeline.star").write_text('load("ci/lib/h.star", "h")\nh()\n')
    (tmp_path / "ci" / "lib" / "h.star").write_text(
        'def h():\n    trigger_job("a", timout = 5)\n')
    (tmp_path / "ci" / "other.star").write_text('x = trigger_job("b")\n')
    (tmp_path / ".hidden" / "broken.star").write_text("x = (\n")
    (tmp_path / "notes.txt").write_text("not starlark")


def test_check_dot_walks_the_directory(tmp_path: Path) -> None:
    tree(tmp_path)
    result = run_cli("check", ".", cwd=tmp_path)
    assert result.code == 1, result.output
    assert [line.split(": ", 2)[:2] for line in result.stderr.splitlines()
            if ": error: " in line or ": warning: " in line] == [
        ["ci/lib/h.star:2:22", "error"], ["ci/other.star:1:1", "warning"]]
    assert result.stdout == "checked 3 files: 1 error, 1 warning\n"


def test_json_report(tmp_path: Path) -> None:
    tree(tmp_path)
    result = run_cli("check", ".", "--format", "json", cwd=tmp_path)
    assert result.code == 1
    doc = json.loads(result.stdout)
    assert (doc["files"], doc["errors"], doc["warnings"]) == (3, 1, 1)
    assert [(d["location"]["file"], d["rule"], d["severity"]) for d in doc["diagnostics"]] == [
        ("ci/lib/h.star", "unknown-field", "error"), ("ci/other.star", "unused-job", "warning")]


def test_github_annotations(tmp_path: Path) -> None:
    tree(tmp_path)
    result = run_cli("check", ".", "--format", "github", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("::error file=ci/lib/h.star,line=2,col=22,title=unknown-field::"
                               "job \"a\": unknown field 'timout' (did you mean 'timeout'?)")
    assert lines[1].startswith("::warning file=ci/other.star,line=1,col=1,title=unused-job::")
    assert lines[2] == "checked 3 files: 1 error, 1 warning"


@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_strict_makes_warnings_fail(tmp_path: Path, strict: bool, code: int) -> None:
    (tmp_path / "p.star").write_text('x = trigger_job("b")\n')
    result = run_cli("check", "p.star", *(["--strict"] if strict else []), cwd=tmp_path)
    assert result.code == code
    assert result.stdout == "checked 1 file: 0 errors, 1 warning\n"


def test_inline_suppression(tmp_path: Path) -> None:
    (tmp_path / "p.star").write_text(
        'x = trigger_job("b")  # check: disable=unused-job\n'
        'trigger_job("a", nope = 1)  # check: disable=unused-job\n'
        'y = trigger_job("c")  # check: disable=all\n')
    result = run_cli("check", "p.star", cwd=tmp_path)
    assert result.code == 1
    assert result.stdout == "checked 1 file: 1 error, 0 warnings\n"
    assert "unknown field 'nope'" in result.stderr


def test_check_applies_the_operators_job_rules(tmp_path: Path) -> None:
    (tmp_path / "p.star").write_text(
        'trigger_job("a", container_image = "docker.io/evil", priority = 50,\n'
        '            env = {"AWS_KEY": "x"})\n'
        'trigger_job("b", container_image = "registry.example.com/ci/go", priority = 5)\n')
    (tmp_path / "policy.toml").write_text(
        '[jobs]\nallowed_images = ["registry.example.com/*"]\nmax_priority = 10\n'
        'reserved_env_prefixes = ["AWS_"]\n')
    plain = run_cli("check", "p.star", cwd=tmp_path)
    assert plain.code == 0, plain.output
    result = run_cli("check", "p.star", "--policy", "policy.toml", cwd=tmp_path)
    assert result.code == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "p.star:1:1: error: job \"a\": priority 50 is above the policy's maximum of 10 "
        "(jobs.max_priority); container_image 'docker.io/evil' is not allowed by the policy "
        "(jobs.allowed_images) [policy]",
        "p.star:2:20: error: job \"a\": env key 'AWS_KEY' uses the reserved prefix 'AWS_' "
        "[env]"]
