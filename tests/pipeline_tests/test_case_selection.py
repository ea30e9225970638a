"""`engine test` options: -k selects cases, -v lists every case, --junit writes a report,
and many cases run in parallel with the same report as one after another; the operator's
policy files are read once per run."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from engine.pipeline_tests import runner as case_runner
from engine.policy import files as policy_files
from tests.support.engine_run import run_cli


def cases(root: Path, count: int, failing: tuple[int, ...] = ()) -> None:
    (root / "pipeline.star").write_text('trigger_job("a")\n')
    for index in range(count):
        job = "b" if index in failing else "a"
        (root / f"case{index:02d}.toml").write_text(
            f'pipeline = "pipeline.star"\nexpect.jobs = [{{ job_name = "{job}" }}]\n')


def test_k_selects_by_path(tmp_path: Path) -> None:
    cases(tmp_path, 3)
    result = run_cli("test", ".", "-k", "case01", "-v", cwd=tmp_path)
    assert result.stdout == "ok   case01.toml\n1 passed, 0 failed\n"
    glob = run_cli("test", ".", "-k", "case0[02].toml", cwd=tmp_path)
    assert glob.stdout.endswith("2 passed, 0 failed\n")
    none = run_cli("test", ".", "-k", "nothing", cwd=tmp_path)
    assert none.code == 2
    assert "no test case matches -k 'nothing'" in none.stderr


def test_v_lists_every_case(tmp_path: Path) -> None:
    cases(tmp_path, 2, failing=(1,))
    result = run_cli("test", ".", "-v", cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert lines[0] == "ok   case00.toml"
    assert lines[1].startswith("FAIL case01.toml: the jobs differ")
    assert lines[-1] == "1 passed, 1 failed"


def test_junit_report(tmp_path: Path) -> None:
    cases(tmp_path, 3, failing=(2,))
    result = run_cli("test", ".", "--junit", "out/report.xml", cwd=tmp_path)
    assert result.code == 2  # the report's directory does not exist: refused first
    (tmp_path / "out").mkdir()
    result = run_cli("test", ".", "--junit", "out/report.xml", cwd=tmp_path)
    assert result.code == 1
    suite = ET.parse(tmp_path / "out" / "report.xml").getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "3", "1")
    names = [(c.get("name"), c.find("failure") is not None) for c in suite.iter("testcase")]
    assert names == [("case00.toml", False), ("case01.toml", False), ("case02.toml", True)]
    failure = suite.find("testcase[@name='case02.toml']/failure")
    assert failure is not None and failure.get("message") == "the jobs differ from expect.jobs"


@pytest.mark.parametrize("parallel_from", [1000, 4])
def test_many_cases_report_the_same_in_parallel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                parallel_from: int) -> None:
    cases(tmp_path, 9, failing=(3, 7))
    monkeypatch.setattr(case_runner, "PARALLEL_FROM", parallel_from)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    out = io.StringIO()
    code = case_runner.run_all([str(tmp_path)], [], False, out, verbose=True)
    assert code == 1
    lines = out.getvalue().splitlines()
    listed = [line.split(":")[0].split()[-1].rsplit("/", 1)[-1] for line in lines[:-1]
              if line.startswith(("ok ", "FAIL "))]
    assert listed == [f"case{i:02d}.toml" for i in range(9)]
    assert [line.startswith("FAIL") for line in lines if line.startswith(("ok", "FAIL"))] == [
        i in (3, 7) for i in range(9)]
    assert lines[-1] == "7 passed, 2 failed"


@pytest.mark.parametrize("parallel_from", [1000, 4])
def test_the_operators_policy_is_read_once_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_from: int,
) -> None:
    root = tmp_path / "cases"
    root.mkdir()
    cases(root, 8)
    # A case's own policy layers over the operator's: the stricter maximum still wins.
    (root / "own.toml").write_text("[jobs]\nmax_priority = 50\n")
    (root / "high.star").write_text('trigger_job("a", priority = 20)\n')
    (root / "case08.toml").write_text('pipeline = "high.star"\npolicy = ["own.toml"]\n'
                                      'expect.error = "max_priority"\n')
    (tmp_path / "operator.toml").write_text("[jobs]\nmax_priority = 10\n")
    read: list[str] = []
    real = policy_files._read

    def counted(path: str) -> dict[str, Any]:
        read.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(policy_files, "_read", counted)
    monkeypatch.setattr(case_runner, "PARALLEL_FROM", parallel_from)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    out = io.StringIO()
    code = case_runner.run_all([str(root)], [str(tmp_path / "operator.toml")], False, out)
    assert (code, out.getvalue()) == (0, "9 passed, 0 failed\n")
    assert sorted(read) == ["operator.toml", "own.toml"]
