"""Shared set-up for the attack tests: a hostile source tree, a strict policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.coordinator_server import DEFAULT_TOKEN

TOKEN = DEFAULT_TOKEN
STRICT_POLICY = "[limits]\nwall_seconds = 2\ncpu_seconds = 2\nmemory_mb = 512\n"
# A run may end this much after its wall limit (process start, the kill's grace).
GRACE_SECONDS = 8.0


@pytest.fixture
def strict_policy(tmp_path: Path) -> Path:
    """A policy file with a 2 s wall clock."""
    path = tmp_path / "strict.toml"
    path.write_text(STRICT_POLICY, encoding="utf-8")
    return path
