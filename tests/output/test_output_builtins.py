"""`print` and `log_next_job` through the real command line: lines on stderr, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.engine_run import run_cli

CASES: dict[str, tuple[str, list[str]]] = {
    "log_next_job with a reason": ('log_next_job("deploy", reason = "tests passed")\n',
                                   ["📋 Next job to run: deploy (reason: tests passed)"]),
    "log_next_job without a reason": ('log_next_job("deploy")\n', ["📋 Next job to run: deploy"]),
    "through ctx": ('ctx.log_next_job("build")\n', ["📋 Next job to run: build"]),
    "print shows values as Starlark does": (
        'print("a", 1, None, True, [1, "x"], {"k": (1, 2)})\n',
        ['a 1 None True [1, "x"] {"k": (1, 2)}'],
    ),
    "print with a separator": ('print("x", "y", sep = "-")\n', ["x-y"]),
    "print of a struct": ("print(struct(a = 1))\n", ["struct(a=1)"]),
    "order is kept": ('print("one")\nlog_next_job("two")\nprint("three")\n',
                      ["one", "📋 Next job to run: two", "three"]),
}


@pytest.mark.parametrize("pipeline, expected", CASES.values(), ids=CASES.keys())
def test_output_lines(tmp_path: Path, pipeline: str, expected: list[str]) -> None:
    star = tmp_path / "pipeline.star"
    star.write_text(pipeline + 'trigger_job("done")\n', encoding="utf-8")
    result = run_cli("--src", tmp_path, "--triggers-file", tmp_path / "t.json")
    assert result.code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("used: ")]
    assert lines == expected
    for line in expected:
        assert line not in result.stdout


REFUSED = {
    "log_next_job of a number": ("log_next_job(3)", "log_next_job: job_name must be a string"),
    "print with a number as separator": ('print("a", sep = 1)',
                                         "print: sep must be a string, not int"),
    "print with None as separator": ('print("a", sep = None)',
                                     "print: sep must be a string, not NoneType"),
}


@pytest.mark.parametrize("call, message", REFUSED.values(), ids=REFUSED.keys())
def test_a_wrong_argument_is_refused_in_the_builtins_words(tmp_path: Path, call: str,
                                                          message: str) -> None:
    star = tmp_path / "pipeline.star"
    star.write_text(f"x = 1\n{call}\n", encoding="utf-8")
    result = run_cli("--src", tmp_path, "--triggers-file", tmp_path / "t.json")
    assert result.code == 1
    assert result.stderr.startswith(f"{star}:2:1: error: {message}\n"), result.stderr
