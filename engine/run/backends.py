"""What the parent answers the sandbox's questions with, and the live ones an ingest uses:
git in the source checkout, the coordinator, `load()` from the source directory."""

from __future__ import annotations

from engine.capabilities.base import GitSource, JobState, SourceReader
from engine.capabilities.coordinator.deferred import job_state
from engine.capabilities.source_tree import SourceTree
from engine.common.record import Record
from engine.core.builtin_table import GIT_VERSION, HTTP_CLIENT, preloads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.policy import Policy
    from engine.run.inputs import Inputs
    from engine.run.options import RunOptions


class Backends(Record):
    """What the parent answers the sandbox's questions with: the live checkout and
    coordinator for an ingest, in-memory data for a pipeline test. `answers` are questions
    answered in advance, `(capability, method, args, answer or CapabilityError)`: a replay
    seeds every recorded answer and leaves nothing for the backends to answer."""

    __slots__ = ("answers", "git", "job_state", "sources")

    def __init__(self, git: GitSource, job_state: JobState, sources: SourceReader,
                 answers: tuple[tuple[str, str, list[Any], Any], ...] = ()) -> None:
        self.git = git
        self.job_state = job_state
        self.sources = sources
        self.answers = answers


def live_backends(inputs: Inputs, options: RunOptions) -> Backends:
    """git in the source checkout, the coordinator over HTTPS, `load()` from the source
    directory. Call after the sandbox is forked: this may start background imports."""
    from engine.capabilities.git.live import LiveGit, scrub_git_environment

    scrub_git_environment(inputs.code_dir)  # git's environment is fixed; this is belt and braces
    _start_preloads(inputs)
    policy = options.policy
    git = LiveGit(
        inputs.code_dir,
        on_missing_history=policy.git.on_missing_history,
        env_branch=inputs.context.get("branch"),
        wall_seconds=options.limits.wall_seconds,
        memory_mb=options.limits.memory_mb,
    )
    if options.changed is not None:
        from engine.capabilities.git.given import GivenChanges

        return Backends(GivenChanges(git, options.changed), job_state_for(inputs, options),
                        source_tree(inputs, policy))
    return Backends(git, job_state_for(inputs, options), source_tree(inputs, policy))


def _start_preloads(inputs: Inputs) -> None:
    """Start what the builtins the pipeline names will need, answered while the sandbox
    warms up (engine.core.builtin_table says which)."""
    wanted = preloads(inputs.pipeline_text)
    if GIT_VERSION in wanted:
        from engine.capabilities.git.runner import start_version_check

        start_version_check()
    if HTTP_CLIENT in wanted and inputs.coordinator_url:
        from engine.common import preload

        preload.start("requests")


def source_tree(inputs: Inputs, policy: Policy) -> SourceTree:
    """The files `load()` may read: `.star` files under the source directory."""
    return SourceTree(
        inputs.src_dir,
        inputs.pipeline_path,
        inputs.pipeline_name,
        enabled=policy.load.enabled,
        max_files=policy.load.max_files,
    )


def job_state_for(inputs: Inputs, options: RunOptions) -> JobState:
    """The coordinator backend, or one that explains what configuration is missing."""
    return job_state(
        inputs.coordinator_url,
        inputs.token,
        allow_insecure_transport=options.allow_insecure_transport,
        workflow_id=inputs.workflow_id,
        job_id=inputs.context.get("job_id"),
        wall_seconds=options.limits.wall_seconds,
    )
