"""The README shows what the engine and the shipped cases really produce."""

from __future__ import annotations

import re

from tests.support.engine_run import REPO_ROOT, run_cli

SNIPPETS = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_plan_picture_is_the_engine_output() -> None:
    shown = re.search(r"```mermaid\n(.*?)```", SNIPPETS, re.S)
    assert shown is not None
    result = run_cli("plan", "--format", "mermaid", "--pipeline", "multi_stage.star",
                        "--src", ".", cwd=REPO_ROOT / "examples" / "pipelines",
                        env={"REACTORCIDE_GIT_BRANCH": "main"})
    assert result.code == 0, result.output
    assert shown.group(1) == result.stdout


def test_the_test_case_is_the_shipped_one() -> None:
    shown = re.search(r"```toml\n# (examples/tests/\S+\.toml)\n(.*?)```", SNIPPETS, re.S)
    assert shown is not None
    assert (REPO_ROOT / shown.group(1)).read_text(encoding="utf-8") == shown.group(2)


def test_no_install_from_an_index_the_package_is_not_published_to() -> None:
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        assert "pip install reactorcide-pipeline-engine" not in path.read_text(), path
