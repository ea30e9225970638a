"""A checkout described by data: the `GitSource` of pipeline test cases.

`python -m engine test` plugs it into the same services, sandbox and policy a real
ingest uses; nothing here runs git.
"""

from __future__ import annotations

import re

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.refs import normalize, range_sides

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Change = dict[str, str | None]

STATUSES = ("added", "modified", "deleted", "renamed", "copied", "type_changed")
INFO_KEYS = ("branch", "commit", "short_commit", "tag", "remote_url")


def _ref_name(ref: str) -> str:
    return re.split(r"[~^]|@\{", ref, maxsplit=1)[0]


class StaticGit:
    """`GitSource` answering every change question with the same changes, unless a range
    has changes of its own; refs listed as missing fail as in a shallow checkout.

    `ranges` is keyed by the normalized question (`("A...B", None)`, `("A", "B")`).
    `env_branch`, like the live source's, wins over the checkout's branch.
    """

    def __init__(self, *, changes: list[Change], ranges: dict[tuple[str, str | None],
                 list[Change]] | None = None, info: dict[str, Any] | None = None,
                 missing: tuple[str, ...] = (), env_branch: str | None = None) -> None:
        self._changes = _sorted(changes)
        self._ranges = {key: _sorted(value) for key, value in (ranges or {}).items()}
        self._info: dict[str, Any] = dict.fromkeys(INFO_KEYS)
        self._info.update(info or {})
        if self._info.get("commit") and not self._info.get("short_commit"):
            self._info["short_commit"] = str(self._info["commit"])[:7]
        if env_branch:
            self._info["branch"] = env_branch
        self._missing = missing
        self.warnings: list[str] = []

    def _question(self, from_ref: str, to_ref: str | None) -> list[Change]:
        frm, to = normalize(from_ref, to_ref)
        for side in range_sides(frm, to)[:2]:
            if side in self._missing or _ref_name(side) in self._missing:
                raise CapabilityError(f"unknown git ref {side!r}: it is not in this checkout "
                                      "(the test case lists it as missing)")
        return self._ranges.get((frm, to), self._changes)

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        paths: set[str] = set()
        for change in self._question(from_ref, to_ref):
            paths.add(str(change["path"]))
            if change["status"] == "renamed" and change.get("old_path"):
                paths.add(str(change["old_path"]))
        return sorted(paths, key=lambda p: p.encode("utf-8"))

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        return [dict(change) for change in self._question(from_ref, to_ref)]

    def info(self, base_dir: str | None) -> dict[str, Any]:
        return dict(self._info)


def _sorted(changes: list[Change]) -> list[Change]:
    """Git's order: by path, byte-wise."""
    return sorted(changes, key=lambda c: str(c["path"]).encode("utf-8"))
