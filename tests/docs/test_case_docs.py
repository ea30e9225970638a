"""docs/pipeline-tests.md shows the shipped example cases as they are."""

from __future__ import annotations

import re

from tests.support.engine_run import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "pipeline-tests.md"
SHOWN = re.compile(r"`((?:tests/)?examples/(?:tests|cases)/[^`]+\.toml)`:\n\n```toml\n(.*?)```",
                   re.S)


def test_every_case_shown_is_the_shipped_file() -> None:
    shown = SHOWN.findall(GUIDE.read_text(encoding="utf-8"))
    assert len(shown) >= 10
    for path, text in shown:
        assert (REPO_ROOT / path).read_text(encoding="utf-8") == text, path


def test_every_pattern_of_the_guide_has_a_case_shown() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    for number in range(1, 8):
        assert f"Pattern {number}," in text
