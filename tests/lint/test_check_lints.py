"""`check`'s lints: job lints read from the syntax tree, and the interpreter's own lints,
each reported as `FILE:LINE:COL: SEVERITY: message [name]`; warnings never fail a check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, run_cli

LINE = re.compile(r"^(?P<where>[^:\n]+:\d+:\d+): (?P<severity>\w+): .*\[(?P<name>[a-z-]+)\]$")


@dataclass(frozen=True)
class LintCase:
    """Files (the first is checked), and the lints expected: (file:line:col, name)."""

    files: dict[str, str]
    lints: tuple[tuple[str, str], ...]


CASES: dict[str, LintCase] = {
    "clean": LintCase({"p.star": 't = trigger_job("t")\ntrigger_job("b", depends_on = [t])\n'},
                      ()),
    "unknown literal dependency": LintCase(
        {"p.star": 'trigger_job("lint")\ntrigger_job("b", depends_on = ["lint", "tset"])\n'},
        (("p.star:2:40", "unknown-dependency"),)),
    "positional depends_on, via ctx": LintCase(
        {"p.star": 'ctx.submit_job("b", None, ("a",))\n'},
        (("p.star:1:28", "unknown-dependency"),)),
    "a job created in a loaded file counts": LintCase(
        {"p.star": 'load("lib.star", "make")\nmake()\ntrigger_job("b", depends_on = ["a"])\n',
         "lib.star": 'def make():\n    return trigger_job(job_name = "a")\n'},
        ()),
    "computed names are not guessed": LintCase(
        {"p.star": 'for n in ["a"]:\n    trigger_job("t-" + n)\n'
                   'trigger_job("b", depends_on = ["t-a"])\n'},
        (("p.star:3:32", "unknown-dependency"),)),
    "unused job variable": LintCase(
        {"p.star": 'build = trigger_job("build")\ntrigger_job("deploy")\n'},
        (("p.star:1:1", "unused-job"),)),
    "unused job variable in a function": LintCase(
        {"p.star": 'def f():\n    job = trigger_job("x")\n    return 1\nf()\n'},
        (("p.star:2:5", "unused-job"),)),
    "underscore and loaded names are used": LintCase(
        {"p.star": 'load("lib.star", "shared")\n_ignored = trigger_job("a")\n'
                   'trigger_job("b", depends_on = [shared])\n',
         "lib.star": 'shared = trigger_job("s")\n'},
        ()),
    "used later, in a function": LintCase(
        {"p.star": 't = trigger_job("t")\ndef deps():\n    return [t]\n'
                   'trigger_job("b", depends_on = deps())\n'},
        ()),
    "any_success, by keyword and by position": LintCase(
        {"p.star": 'trigger_job("a")\ntrigger_job("b", depends_on = ["a"], '
                   'condition = "any_success")\ntrigger_job("c", None, ["a"], "any_success")\n'},
        (("p.star:2:50", "any-success"), ("p.star:3:31", "any-success"))),
    "non-ASCII columns are characters": LintCase(
        {"p.star": 'trigger_job("a", env = {"K": "éü"}, depends_on = ["zz"])\n'},
        (("p.star:1:51", "unknown-dependency"),)),
    "interpreter lints": LintCase(
        {"p.star": 'load("lib.star", "helper")\ndef f():\n    unused = 1\n    return 2\n'
                   'x = {"a": 1, "a": 2}\nf()\n', "lib.star": "def helper():\n    return 1\n"},
        (("p.star:1:18", "unused-load"), ("p.star:3:5", "unused-assign"),
         ("p.star:5:6", "duplicate-key"))),
    "unparsable by the job lints": LintCase(
        {"p.star": 'trigger_job("a")\nx = 1 if True else 2\n'}, ()),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_lints(tmp_path: Path, case: LintCase) -> None:
    for name, text in case.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    first = next(iter(case.files))

    result = run_cli("check", first, cwd=tmp_path)

    assert result.code == 0, result.output
    found = [(m["where"], m["name"]) for m in map(LINE.match, result.stderr.splitlines()) if m]
    assert found == list(case.lints), result.stderr
    assert all(m["severity"] == "warning" for m in map(LINE.match, result.stderr.splitlines())
               if m)
    count = len(case.lints)
    if count:
        assert result.stdout.rstrip().endswith(f"{count} warning{'s' if count > 1 else ''}")


def test_examples_are_clean() -> None:
    """The bundled examples draw neither errors nor warnings."""
    examples = sorted((REPO_ROOT / "examples" / "pipelines").glob("*.star"))
    result = run_cli("check", *examples)
    assert result.code == 0, result.output
    assert result.stdout == f"checked {len(examples)} files: 0 errors, 0 warnings\n"
    assert result.stderr == ""
