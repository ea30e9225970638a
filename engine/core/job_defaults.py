"""The checkout fields every job of an eval run carries unless the pipeline sets them.

The coordinator does not pass the eval job's source to its children: a child without
`source_type`/`source_url`/`source_ref`/`ci_source_type` checks nothing out. In an eval
run (the environment names the code's clone URL) each job therefore gets the code at
the evaluated commit, and the CI source as git.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


def defaults_for(context: Mapping[str, Any]) -> dict[str, str]:
    """The fields to fill, from the run's `ctx` values; nothing outside an eval run."""
    source_url = context.get("source_url")
    if not source_url:
        return {}
    out = {"source_type": "git", "source_url": str(source_url), "ci_source_type": "git"}
    if context.get("commit"):
        out["source_ref"] = str(context["commit"])
    return out


def fill(fields: dict[str, Any], defaults: Mapping[str, str]) -> dict[str, Any]:
    """`fields` with every default the pipeline left unset; the code's URL and ref only
    when the job checks its source out with git."""
    if not defaults:
        return fields
    out = dict(fields)
    for key in ("source_type", "ci_source_type"):
        if out.get(key) is None and key in defaults:
            out[key] = defaults[key]
    if out.get("source_type") == "git":
        for key in ("source_url", "source_ref"):
            if out.get(key) is None and key in defaults:
                out[key] = defaults[key]
    return out
