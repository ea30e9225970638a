"""Where a command stands: the git repository that holds a directory."""

from __future__ import annotations

import os


def repository_top(start: str) -> str | None:
    """The nearest directory at or above `start` holding a `.git` entry, or None.

    No git process is started: git would be asked about a directory nobody named.
    """
    current = os.path.abspath(start)
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
