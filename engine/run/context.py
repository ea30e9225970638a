"""What a run knows about itself: the `ctx` values.

Shared by `python -m engine` and the Python workflow API (`workflow`), so that `ctx`
answers alike in both languages (the coordinator backend they share is
`engine.capabilities.coordinator.deferred`).
"""

from __future__ import annotations

from engine.run.event import EnvReading
from engine.run.inputs import read_context

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def context_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """`ctx` values from the environment, looked up as an ingest looks them up."""
    return read_context(EnvReading(env))


def complete_context(context: Mapping[str, Any],
                     info: Mapping[str, Any]) -> dict[str, Any]:
    """Fill a missing branch and commit from `info` (a `git_info()` answer) and derive a
    missing ref from the branch, else from the tag.

    The branch is filled only when the event could have one (a push, or no event): a
    tag or a pull request has none, whatever the checkout is on.
    """
    from engine.run.event import PUSH

    out = dict(context)
    if out.get("event") in (None, PUSH):
        out["branch"] = out.get("branch") or info.get("branch")
    out["commit"] = out.get("commit") or info.get("commit")
    if not out.get("ref") and out.get("event") in (None, PUSH):
        if out.get("branch"):
            out["ref"] = f"refs/heads/{out['branch']}"
        elif info.get("tag"):
            out["ref"] = f"refs/tags/{info['tag']}"
    if out.get("event") is None and not out.get("tag") and info.get("tag"):
        out["tag"] = info["tag"]
    return out
