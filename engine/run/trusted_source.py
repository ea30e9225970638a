"""Which pipeline an eval job evaluates, and where its git questions go.

In an eval job (`REACTORCIDE_CI_SOURCE_URL` is set) the pipeline and every file it loads
come from the trusted CI checkout (`REACTORCIDE_CI_SOURCE_DIR`, default `/job/ci`): the
coordinator points it at the base of a pull request, never at the pull request's head or
a fork. The code checkout (`REACTORCIDE_CODE_DIR`, default `/job/src`) answers the git
questions; its own pipeline is never evaluated. An operator may choose the code's
pipeline instead (`[trust] pipeline_source = "code"`), which a pull request from a fork
may use only with `[trust] allow_fork_pipelines = true`.
"""

from __future__ import annotations

import os
import time

from engine.common.record import Record
from engine.core.diagnostics import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from engine.policy import Policy

DEFAULT_CI_DIR = "/job/ci"
DEFAULT_CODE_DIR = "/job/src"
PIPELINE_NAMES = ("pipeline.star", os.path.join(".reactorcide", "pipeline.star"))


class Sources(Record):
    """Where the pipeline is read (`src_dir`, `pipeline`) and git is asked (`code_dir`)."""

    __slots__ = ("code_dir", "from_ci", "pipeline", "src_dir")

    def __init__(self, src_dir: str, pipeline: str, code_dir: str, from_ci: bool) -> None:
        self.src_dir = src_dir
        self.pipeline = pipeline
        self.code_dir = code_dir
        self.from_ci = from_ci


def in_eval_job(env: Mapping[str, str]) -> bool:
    """Whether the environment is an eval job's: it names the trusted CI source."""
    return bool(env.get("REACTORCIDE_CI_SOURCE_URL"))


def resolve(env: Mapping[str, str], context: Mapping[str, Any], policy: Policy,
            err: TextIO) -> Sources:
    """Make the checkouts that are missing and say where the pipeline is.

    `context` is the run's event (engine.run.event). UsageError (exit 2) when the policy
    refuses the code's pipeline for a fork, a clone fails, or no pipeline is found.
    """
    pr = context.get("pr")
    is_fork = bool(pr and pr.get("is_fork"))
    source = policy.trust.pipeline_source
    if source == "code" and is_fork and not policy.trust.allow_fork_pipelines:
        raise UsageError(
            '[trust] pipeline_source = "code" is refused for a pull request from a fork: '
            "its pipeline would decide its own jobs; the trusted CI source's pipeline is "
            "used only when pipeline_source is \"ci\" (or set [trust] "
            "allow_fork_pipelines = true to accept the fork's)", "policy")
    ci_dir = env.get("REACTORCIDE_CI_SOURCE_DIR") or DEFAULT_CI_DIR
    code_dir = env.get("REACTORCIDE_CODE_DIR") or DEFAULT_CODE_DIR
    timeout = policy.checkout.timeout_seconds
    deadline = time.monotonic() + timeout
    from engine.run import checkout

    git_env = checkout.git_environment(env.get("GIT_CONFIG_GLOBAL"))
    from_ci = source == "ci"
    if from_ci and not checkout.is_checkout(ci_dir):
        err.write(f"checking out the CI source into {ci_dir}\n")
        checkout.check_out_ci(ci_dir, env["REACTORCIDE_CI_SOURCE_URL"],
                              env.get("REACTORCIDE_CI_SOURCE_REF") or None, env=git_env,
                              deadline=deadline, timeout_seconds=timeout)
    code_url = env.get("REACTORCIDE_SOURCE_URL")
    if code_url and not checkout.is_checkout(code_dir):
        err.write(f"checking out the code into {code_dir}\n")
        checkout.check_out_code(
            code_dir, code_url, env.get("REACTORCIDE_SHA") or None,
            base_sha=pr.get("base_sha") if pr else None,
            base_ref=pr.get("base_ref") if pr else None,
            env=git_env, deadline=deadline, timeout_seconds=timeout)
    root = ci_dir if from_ci else code_dir
    for name in PIPELINE_NAMES:
        candidate = os.path.join(root, name)
        if os.path.isfile(candidate):
            return Sources(root, candidate, code_dir, from_ci)
    where = "the CI source" if from_ci else "the code"
    raise UsageError(f"no pipeline in {where}: neither pipeline.star nor "
                     ".reactorcide/pipeline.star exists", root)


def is_pipeline_file(path: str) -> bool:
    """A path whose change could change what a pipeline decides."""
    return path.endswith(".star") or path.startswith(".reactorcide/")


def pipeline_changes(changed: list[str]) -> list[str]:
    """The changed paths that are pipeline files."""
    return [path for path in changed if is_pipeline_file(path)]


def pipeline_change_note(number: int | None, touched: list[str], *, from_ci: bool) -> str:
    """The log line saying that a pull request changes pipeline files, and whose version
    decided. The paths are the pull request's own: control characters (newlines too,
    so a name cannot start a line of its own) are escaped."""
    from engine.common.shown import escape_controls

    paths = [escape_controls(path).replace("\n", "\\n").replace("\t", "\\t")
             for path in touched[:10]]
    shown = ", ".join(paths) + (f" and {len(touched) - 10} more" if len(touched) > 10
                                else "")
    decided = ("the trusted CI source's version decided (the pull request's pipeline "
               "files were not evaluated)" if from_ci else
               "the code's version decided ([trust] pipeline_source = \"code\")")
    return f"note: pull request #{number} changes pipeline files: {shown}; {decided}"
