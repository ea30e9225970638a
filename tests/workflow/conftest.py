"""Fixtures of the workflow API tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """This process's environment without REACTORCIDE_* or RC_WF_* variables, except a
    triggers file and a source directory inside the test's temporary directory (so that
    nothing ever reaches /job).

    A `WorkflowContext` reads the environment when it is made, so in-process tests set
    what they need on the returned monkeypatch first.
    """
    for key in list(os.environ):
        if key.startswith(("REACTORCIDE_", "RC_WF_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("REACTORCIDE_TRIGGERS_FILE", str(tmp_path / "default" / "triggers.json"))
    monkeypatch.setenv("REACTORCIDE_CODE_DIR", str(tmp_path / "default" / "src"))
    return monkeypatch
