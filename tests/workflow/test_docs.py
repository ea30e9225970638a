"""docs/migration.md shows the tested twins as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT
from tests.workflow.scripts import PYTHON_EXAMPLES, STARLARK_EXAMPLES

MIGRATION = REPO_ROOT / "docs" / "migration.md"


def _is_subsequence(lines: list[str], source: list[str]) -> bool:
    remaining = iter(source)
    return all(any(line == candidate for candidate in remaining) for line in lines)


@pytest.mark.parametrize(("index", "example"), [
    (0, PYTHON_EXAMPLES / "context_manager_example.py"),
    (1, STARLARK_EXAMPLES / "context_manager_example.star"),
])
def test_the_side_by_side_pipeline_is_the_tested_twin(index: int, example: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", MIGRATION.read_text(encoding="utf-8"), re.S)
    shown = [line for line in blocks[index].splitlines() if line.strip()]
    source = example.read_text(encoding="utf-8").splitlines()
    assert len(shown) > 30
    assert _is_subsequence(shown, source)
