"""The event a run reacts to: what the coordinator's environment says, as `ctx` values.

Read once, from the inputs snapshot's environment reading. The coordinator names the
event in `REACTORCIDE_EVENT_TYPE` and reuses `REACTORCIDE_BRANCH` for three different
things (the pushed branch, the tag name, a pull request's *base* branch), so the branch
is only taken from it for a push; a pull request into `main` never reads as `main`.
Without an event type (a local run, an older worker) the variable is the branch.
"""

from __future__ import annotations

import json
import os

from engine.core.diagnostics import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


PUSH = "push"
TAG = "tag_created"
PR_EVENTS = ("pull_request_opened", "pull_request_updated", "pull_request_merged",
             "pull_request_closed")
EVENT_TYPES = (PUSH, TAG, *PR_EVENTS)

# Every variable an eval job may receive (the coordinator's job env and what it adds at
# claim time), read once so that a transcript shows what the run saw. The API token is
# not here: it is taken out of the environment before anything else.
JOB_VARIABLES = (
    "REACTORCIDE_CI", "REACTORCIDE_PROVIDER", "REACTORCIDE_EVENT_TYPE",
    "REACTORCIDE_JOB_KIND", "REACTORCIDE_REPO", "REACTORCIDE_SOURCE_URL",
    "REACTORCIDE_HEAD_ACTOR", "REACTORCIDE_CHECKOUT_MODE", "REACTORCIDE_SHA",
    "REACTORCIDE_BRANCH", "REACTORCIDE_PR_NUMBER", "REACTORCIDE_PR_REF",
    "REACTORCIDE_HEAD_REF", "REACTORCIDE_PR_BASE_REF", "REACTORCIDE_BASE_REF",
    "REACTORCIDE_DIFF_BASE", "REACTORCIDE_HEAD_URL", "REACTORCIDE_BASE_URL",
    "REACTORCIDE_IS_FORK_PR", "REACTORCIDE_CI_SOURCE_TYPE", "REACTORCIDE_CI_SOURCE_URL",
    "REACTORCIDE_CI_SOURCE_REF", "REACTORCIDE_CI_SOURCE_DIR", "REACTORCIDE_SOURCE_TYPE",
    "REACTORCIDE_SOURCE_REF", "REACTORCIDE_SOURCE_PATH", "REACTORCIDE_ACTOR_SUBJECTS",
    "REACTORCIDE_CI_APPROVALS", "REACTORCIDE_CI_POLICY", "REACTORCIDE_CI_POLICY_REVISION",
    "REACTORCIDE_REPORT_TARGET_ID", "REACTORCIDE_REPORT_GENERATION", "REACTORCIDE_JOB_ID",
    "REACTORCIDE_QUEUE", "REACTORCIDE_IN_CONTAINER", "REACTORCIDE_CODE_DIR",
    "REACTORCIDE_JOB_DIR", "REACTORCIDE_COORDINATOR_URL", "REACTORCIDE_SECRET_ENV_NAMES",
    "REACTORCIDE_VCS_AUTH_DIR", "REACTORCIDE_GIT_BRANCH", "REACTORCIDE_GIT_COMMIT",
    "REACTORCIDE_GIT_REF", "RC_WF_ID", "RC_WF_VARS_JSON", "RC_WF_VARS_FILE",
    "RC_WF_OUTPUT_FILE", "RC_WF_NODE_ID", "RC_WF_RUN_ID", "RC_WF_NODE_NAME",
    "GIT_CONFIG_GLOBAL",
)

PR_KEYS = ("number", "head_ref", "base_ref", "base_sha", "head_url", "base_url", "is_fork",
           "actor")
MAX_VARS_FILE_BYTES = 1024 * 1024


class EnvReading:
    """The environment, remembering each variable looked up (for a transcript)."""

    __slots__ = ("env", "seen")

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.seen: dict[str, str | None] = {}

    def get(self, *names: str) -> str | None:
        """The first of `names` that is set and not empty."""
        for name in names:
            value = self.env.get(name) or None
            self.seen[name] = value
            if value:
                return value
        return None


def read_event(reading: EnvReading) -> dict[str, Any]:
    """The `ctx` values of the environment (None when unknown): the scalar fields, `pr`
    (a dict or None), `vars` (a dict) and `change_base` (the default `from_ref` of the
    change builtins). UsageError (exit 2) for an unknown event type or a malformed value.
    """
    for name in JOB_VARIABLES:
        reading.get(name)
    get = reading.get
    event = get("REACTORCIDE_EVENT_TYPE")
    if event is not None and event not in EVENT_TYPES:
        raise UsageError(
            f"REACTORCIDE_EVENT_TYPE is {event!r}, which is not an event this engine knows "
            f"({', '.join(EVENT_TYPES)})", "environment")
    env_branch = get("REACTORCIDE_BRANCH")
    branch = get("REACTORCIDE_GIT_BRANCH")
    if branch is None and event in (None, PUSH):
        branch = env_branch
    tag = env_branch if event == TAG else None
    pr = _pull_request(reading, event)
    ref = get("REACTORCIDE_GIT_REF")
    if ref is None:
        if branch is not None:
            ref = f"refs/heads/{branch}"
        elif tag is not None:
            ref = f"refs/tags/{tag}"
        elif pr is not None and pr["number"] is not None:
            ref = f"refs/pull/{pr['number']}/head"
    source_url = get("REACTORCIDE_SOURCE_URL")
    if source_url is not None:
        from engine.capabilities.git.urls import strip_credentials

        source_url = strip_credentials(source_url)
    context: dict[str, Any] = {
        "job_id": get("REACTORCIDE_JOB_ID"),
        "event": event,
        "branch": branch,
        "tag": tag,
        "commit": get("REACTORCIDE_GIT_COMMIT", "REACTORCIDE_SHA"),
        "ref": ref,
        "repo": get("REACTORCIDE_REPO"),
        "provider": get("REACTORCIDE_PROVIDER"),
        "source_url": source_url,
        "workflow_id": get("RC_WF_ID"),
        "pr": pr,
        "vars": read_vars(reading),
    }
    context["change_base"] = change_base(pr)
    return context


def is_pull_request(event: str | None) -> bool:
    """Whether the event type names a pull request."""
    return event in PR_EVENTS


def diff_base(env: Mapping[str, str]) -> str | None:
    """The commit an eval job for a pull request compares its plan with
    (`REACTORCIDE_DIFF_BASE`, for a `pull_request_*` event); None for any other run."""
    event = env.get("REACTORCIDE_EVENT_TYPE") or ""
    base = env.get("REACTORCIDE_DIFF_BASE") or ""
    return base if event.startswith("pull_request_") and base else None


def _pull_request(reading: EnvReading, event: str | None) -> dict[str, Any] | None:
    get = reading.get
    number_text = get("REACTORCIDE_PR_NUMBER")
    if not is_pull_request(event) and not (event is None and number_text):
        return None
    number: int | None = None
    if number_text is not None:
        if not number_text.isdigit() or len(number_text) > 12:
            raise UsageError(f"REACTORCIDE_PR_NUMBER is {number_text!r}, not a pull request "
                             "number", "environment")
        number = int(number_text)
    return {
        "number": number,
        "head_ref": get("REACTORCIDE_HEAD_REF", "REACTORCIDE_PR_REF"),
        "base_ref": get("REACTORCIDE_BASE_REF", "REACTORCIDE_PR_BASE_REF")
        or (get("REACTORCIDE_BRANCH") if event is not None else None),
        "base_sha": get("REACTORCIDE_DIFF_BASE"),
        "head_url": _stripped(get("REACTORCIDE_HEAD_URL")),
        "base_url": _stripped(get("REACTORCIDE_BASE_URL")),
        # The coordinator sets "true" for a fork and nothing otherwise (never "false").
        "is_fork": get("REACTORCIDE_IS_FORK_PR") == "true",
        "actor": get("REACTORCIDE_HEAD_ACTOR"),
    }


def _stripped(url: str | None) -> str | None:
    if url is None:
        return None
    from engine.capabilities.git.urls import strip_credentials

    return strip_credentials(url)


def change_base(pr: Mapping[str, Any] | None) -> str:
    """What the change builtins compare by default: for a pull request everything it
    changed since the merge base with its base (`BASE_SHA...HEAD`, else
    `origin/BASE_REF...HEAD`); otherwise the last commit (`HEAD^`)."""
    if pr is not None:
        if pr.get("base_sha"):
            return f"{pr['base_sha']}...HEAD"
        if pr.get("base_ref"):
            return f"origin/{pr['base_ref']}...HEAD"
    return "HEAD^"


def read_vars(reading: EnvReading) -> dict[str, Any]:
    """The workflow's variables: `RC_WF_VARS_JSON`, else the file `RC_WF_VARS_FILE` names
    when it exists, else `{}`. UsageError naming the variable when malformed."""
    inline = reading.get("RC_WF_VARS_JSON")
    if inline is not None:
        return _vars_object(inline, "RC_WF_VARS_JSON")
    path = reading.get("RC_WF_VARS_FILE")
    if path is None or not os.path.exists(path):
        return {}
    if not os.path.isfile(path):
        raise UsageError("RC_WF_VARS_FILE names something that is not a file", path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_VARS_FILE_BYTES + 1)
    except OSError as err:
        raise UsageError(f"RC_WF_VARS_FILE cannot be read: {err.strerror}", path) from None
    if len(raw) > MAX_VARS_FILE_BYTES:
        raise UsageError("RC_WF_VARS_FILE is larger than 1 MiB", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("RC_WF_VARS_FILE is not UTF-8", path) from None
    return _vars_object(text, "RC_WF_VARS_FILE")


def _vars_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise UsageError(f"{name} is not valid JSON ({err})", "environment") from None
    if not isinstance(value, dict):
        raise UsageError(f"{name} must hold a JSON object", "environment")
    return value


# -- command-line facts ---------------------------------------------------------------

EVENT_OPTIONS = ("--event", "--branch", "--tag", "--pr", "--base", "--head-ref", "--fork",
                 "--var")


def apply_flags(env: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """The environment with the command line's event facts written over it, as the
    variables the coordinator would set (so a transcript records them like any other).

    `values` maps `--event`, `--branch`, `--tag`, `--pr`, `--base`, `--head-ref` to a
    string or None, `--fork` to a bool and `--var` to a list of `KEY=JSON`.
    """
    out = dict(env)
    event = values.get("--event")
    tag = values.get("--tag")
    if tag is not None:
        if event not in (None, TAG):
            raise UsageError(f"--tag names a tag event; it cannot be combined with --event "
                             f"{event}", "python -m engine")
        event = TAG
        out["REACTORCIDE_BRANCH"] = str(tag)
    if event is not None:
        if event not in EVENT_TYPES:
            raise UsageError(f"--event must be one of {', '.join(EVENT_TYPES)}, not {event!r}",
                             "python -m engine")
        out["REACTORCIDE_EVENT_TYPE"] = str(event)
    branch = values.get("--branch")
    if branch is not None:
        out["REACTORCIDE_GIT_BRANCH"] = str(branch)
    pr = values.get("--pr")
    if pr is not None:
        if not (str(pr).isascii() and str(pr).isdigit()):
            raise UsageError(f"--pr takes a pull request number, not {pr!r}",
                             "python -m engine")
        out["REACTORCIDE_PR_NUMBER"] = str(pr)
    base = values.get("--base")
    if base is not None:
        out["REACTORCIDE_BASE_REF"] = out["REACTORCIDE_PR_BASE_REF"] = str(base)
    head = values.get("--head-ref")
    if head is not None:
        out["REACTORCIDE_HEAD_REF"] = out["REACTORCIDE_PR_REF"] = str(head)
    if values.get("--fork"):
        out["REACTORCIDE_IS_FORK_PR"] = "true"
    assignments = values.get("--var") or []
    if assignments:
        # Added to what the run would read otherwise (the inline JSON, else the file).
        current = read_vars(EnvReading(out))
        for assignment in assignments:
            key, sep, raw = str(assignment).partition("=")
            if not sep or not key:
                raise UsageError(f"--var takes KEY=JSON, not {assignment!r}", "python -m engine")
            try:
                current[key] = json.loads(raw)
            except ValueError:
                raise UsageError(f"--var {key}: {raw!r} is not JSON (quote a string: "
                                 f"{key}='\"text\"')", "python -m engine") from None
        out["RC_WF_VARS_JSON"] = json.dumps(current, sort_keys=True)
    return out
