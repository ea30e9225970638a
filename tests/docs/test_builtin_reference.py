"""docs/builtins.md is generated from the builtins' signatures and docstrings, and current."""

from __future__ import annotations

import re
from pathlib import Path

from pipeline_builtins import PREDECLARED
from pipeline_builtins.reference import entries, render
from tests.support.engine_run import REPO_ROOT, run_python

REFERENCE = REPO_ROOT / "docs" / "builtins.md"


def test_the_reference_is_current() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == render(), (
        "docs/builtins.md is stale: run `just docs`")


def test_every_builtin_is_documented_in_order() -> None:
    found = entries()
    assert [entry.name for entry in found] == list(PREDECLARED)
    headings = re.findall(r"^## (\S+)$", render(), re.M)
    assert headings == list(PREDECLARED)
    for entry in found:
        assert entry.doc.strip(), entry.name
        assert entry.signature.startswith(entry.name)


def test_signatures_are_the_callable_ones() -> None:
    signatures = {entry.name: entry.signature for entry in entries()}
    assert signatures["trigger_job"] == ('trigger_job(job_name, env = None, depends_on = None, '
                                         'condition = "all_success", **fields)')
    assert signatures["submit_job"] == signatures["trigger_job"].replace("trigger", "submit", 1)
    assert signatures["changes_include"] == ('changes_include(*globs, from_ref = None, '
                                             'to_ref = None, base_dir = None)')
    assert signatures["ctx"] == "ctx"


def test_the_generator_writes_the_file(tmp_path: Path) -> None:
    target = tmp_path / "builtins.md"
    result = run_python("-m", "pipeline_builtins.reference", "--write", target)
    assert result.code == 0, result.output
    assert target.read_text(encoding="utf-8") == render()
    assert "docs:" in (REPO_ROOT / "justfile").read_text(encoding="utf-8")
