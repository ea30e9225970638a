"""Scenario inputs for an event: the environment variables the worker sets for it.

`plan --diff --events push,pull_request_opened,tag_created` evaluates the pipeline once
per event; each event replaces the event's variables of the environment with the values
below (the branch, tag and pull request taken from the environment when it names them,
else placeholders), through the same `ctx`/environment reading as a real run.
"""

from __future__ import annotations

from engine.run.event import EVENT_TYPES as EVENTS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# Every variable an event sets; an event's environment starts without any of them.
_EVENT_KEYS = ("REACTORCIDE_EVENT_TYPE", "REACTORCIDE_GIT_BRANCH", "REACTORCIDE_BRANCH",
               "REACTORCIDE_GIT_REF", "REACTORCIDE_PR_NUMBER", "REACTORCIDE_PR_REF",
               "REACTORCIDE_HEAD_REF", "REACTORCIDE_PR_BASE_REF", "REACTORCIDE_BASE_REF")

DEFAULT_BRANCH = "main"
DEFAULT_TAG = "v0.0.0"
DEFAULT_HEAD = "feature"
DEFAULT_PR = "1"


def parse_events(text: str) -> list[str]:
    """`push,tag_created` -> the events; ValueError naming an unknown one."""
    from engine.common.suggest import did_you_mean

    events = [part.strip() for part in text.split(",") if part.strip()]
    if not events:
        raise ValueError("--events needs at least one event")
    for event in events:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}{did_you_mean(event, EVENTS)} "
                             f"(events: {', '.join(EVENTS)})")
    return list(dict.fromkeys(events))


def event_environment(event: str, env: Mapping[str, str]) -> dict[str, str]:
    """`env` with the variables the worker sets for `event` (see the module docstring)."""
    def given(*names: str) -> str | None:
        return next((env[n] for n in names if env.get(n)), None)

    branch = given("REACTORCIDE_GIT_BRANCH", "REACTORCIDE_BRANCH") or DEFAULT_BRANCH
    out = {k: v for k, v in env.items() if k not in _EVENT_KEYS}
    out["REACTORCIDE_EVENT_TYPE"] = event
    if event == "push":
        out.update(REACTORCIDE_GIT_BRANCH=branch, REACTORCIDE_BRANCH=branch,
                   REACTORCIDE_GIT_REF=f"refs/heads/{branch}")
    elif event == "tag_created":
        # The worker names the tag in REACTORCIDE_BRANCH for a tag event.
        tag = given("REACTORCIDE_TAG") or DEFAULT_TAG
        out.update(REACTORCIDE_BRANCH=tag, REACTORCIDE_GIT_REF=f"refs/tags/{tag}")
    else:
        # The worker names a pull request's base in REACTORCIDE_BRANCH; its head is a
        # separate variable. Nothing names a branch, so ctx.branch is None, as in a run.
        base = given("REACTORCIDE_BASE_REF", "REACTORCIDE_PR_BASE_REF") or DEFAULT_BRANCH
        head = given("REACTORCIDE_HEAD_REF", "REACTORCIDE_PR_REF") or DEFAULT_HEAD
        out.update(REACTORCIDE_BRANCH=base,
                   REACTORCIDE_PR_NUMBER=given("REACTORCIDE_PR_NUMBER") or DEFAULT_PR,
                   REACTORCIDE_PR_REF=head, REACTORCIDE_HEAD_REF=head,
                   REACTORCIDE_PR_BASE_REF=base, REACTORCIDE_BASE_REF=base)
    return out
