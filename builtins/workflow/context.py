"""`WorkflowContext`: the guide's workflow API over the engine's job model, validation,
writer, git and coordinator code. Its parts: the job book (`book`), writing and
submitting (`writing`), workflow state (`state`), git questions (`repository`); which
context the module-level functions use is `active`'s."""

from __future__ import annotations

import os
from pathlib import Path

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.deferred import job_state
from engine.common.secret import Secret
from engine.core.diagnostics import UsageError
from engine.core.jobs import count_jobs
from engine.run.context import complete_context, context_from_env
from engine.run.inputs import DEFAULT_SRC, DEFAULT_TRIGGERS
from engine.triggers.document import warnings_for
from pipeline_builtins.coordinator import coordinator_builtins
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.git import git_builtins
from pipeline_builtins.output import output_builtins
from workflow.book import WorkflowBook
from workflow.calls import caller_location
from workflow.errors import TriggerError, WorkflowError
from workflow.messages import Stderr, render, say
from workflow.repository import Repositories, base_dir_arg
from workflow.state import set_state
from workflow.writing import Submitter, say_written, write_pending

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from engine.policy import Policy


class WorkflowContext:
    """One script's triggered jobs, where they are written, and the answers they rest on.

    `triggers_file` defaults to `$REACTORCIDE_TRIGGERS_FILE`, else `/job/triggers.json`;
    `src_dir` (where git questions go) to `$REACTORCIDE_CODE_DIR`, else `/job/src`;
    `policy` (an `engine.policy.Policy`: its job rules, job and output limits, and
    `git.on_missing_history`) to the files named by `$REACTORCIDE_PIPELINE_POLICY`,
    else the built-in rules. Plain-http coordinator URLs
    are refused unless `allow_insecure_transport` is true. `submit` (default: when
    `REACTORCIDE_COORDINATOR_URL`, `REACTORCIDE_API_TOKEN` and `REACTORCIDE_JOB_ID` are
    all set) makes every flush POST the file to the coordinator, as `python -m engine`
    does. The environment is read once, here.
    """

    def __init__(
        self,
        triggers_file: str | os.PathLike[str] | None = None,
        *,
        src_dir: str | os.PathLike[str] | None = None,
        policy: Policy | None = None,
        allow_insecure_transport: bool = False,
        submit: bool | None = None,
    ) -> None:
        env = os.environ
        self.triggers_file = Path(
            triggers_file or env.get("REACTORCIDE_TRIGGERS_FILE") or DEFAULT_TRIGGERS
        )
        from engine.core.workflow_state import DEFAULT_OUTPUT_FILE

        self.workflow_output_file = Path(env.get("RC_WF_OUTPUT_FILE") or DEFAULT_OUTPUT_FILE)
        self.src_dir = os.fspath(src_dir or env.get("REACTORCIDE_CODE_DIR") or DEFAULT_SRC)
        self.policy = policy if policy is not None else _policy_from_environment()
        self._limits = self.policy.limits
        try:
            self._env_context = context_from_env(env)
        except UsageError as failure:
            raise WorkflowError(render(failure.diagnostics), failure.diagnostics) from None
        self._context: dict[str, Any] | None = None
        self._repositories = Repositories(
            self.src_dir,
            env_branch=self._env_context["branch"],
            on_missing_history=self.policy.git.on_missing_history,
            warn=lambda text: say(f"warning: {text}"),
        )
        from engine.triggers.submit import submits_by_default

        coordinator_url = env.get("REACTORCIDE_COORDINATOR_URL") or None
        raw_token = env.get("REACTORCIDE_API_TOKEN")
        token = Secret(raw_token) if raw_token else None
        self._submitter = Submitter(coordinator_url, token,
                                    allow_insecure_transport=allow_insecure_transport,
                                    wall_seconds=self._limits.wall_seconds)
        # None: submit when the job can (as upstream's flush_triggers does).
        self.submit = submits_by_default(coordinator_url, token,
                                         self._env_context["job_id"]) if submit is None else submit
        state = job_state(
            env.get("REACTORCIDE_COORDINATOR_URL"),
            token,
            allow_insecure_transport=allow_insecure_transport,
            workflow_id=env.get("RC_WF_ID") or None,
            job_id=self._env_context["job_id"],
        )
        self._functions: dict[str, Callable[..., Any]] = {
            **git_builtins(self._repositories, str(self._env_context["change_base"])),
            **coordinator_builtins(state),
            **output_builtins(Stderr()),
        }
        self._book = WorkflowBook(self.policy.jobs, self._limits.max_jobs, self._env_context)

    # -- context properties -----------------------------------------------------------

    def _values(self) -> dict[str, Any]:
        if self._context is None:
            info: dict[str, Any] = {}
            branch_possible = self._env_context["event"] in (None, "push")
            if (branch_possible and self._env_context["branch"] is None) or (
                self._env_context["commit"] is None
            ):
                try:
                    info = self._repositories.info(None)
                except CapabilityError:
                    info = {}
            self._context = complete_context(self._env_context, info)
        return self._context

    @property
    def job_id(self) -> str | None:
        """This ingest job's id (`REACTORCIDE_JOB_ID`)."""
        value: str | None = self._values()["job_id"]
        return value

    @property
    def event(self) -> str | None:
        """The event type (`REACTORCIDE_EVENT_TYPE`): `push`, `tag_created`,
        `pull_request_opened`, `..._updated`, `..._merged`, `..._closed`."""
        value: str | None = self._env_context["event"]
        return value

    @property
    def branch(self) -> str | None:
        """The pushed branch, only for a push (None for a tag or a pull request); with no
        event type, the environment's branch, else the checkout's."""
        value: str | None = self._values()["branch"]
        return value

    @property
    def tag(self) -> str | None:
        """The tag of a tag event."""
        value: str | None = self._values()["tag"]
        return value

    @property
    def pr(self) -> PullRequest | None:
        """The pull request of a pull request event, else None."""
        facts = self._env_context["pr"]
        return None if facts is None else PullRequest(**facts)

    @property
    def repo(self) -> str | None:
        """The repository, `owner/name` (`REACTORCIDE_REPO`)."""
        value: str | None = self._env_context["repo"]
        return value

    @property
    def provider(self) -> str | None:
        """The VCS provider (`REACTORCIDE_PROVIDER`)."""
        value: str | None = self._env_context["provider"]
        return value

    @property
    def source_url(self) -> str | None:
        """The code's clone URL, credentials removed (`REACTORCIDE_SOURCE_URL`)."""
        value: str | None = self._env_context["source_url"]
        return value

    @property
    def workflow_id(self) -> str | None:
        """The workflow instance this job is a node of (`RC_WF_ID`)."""
        value: str | None = self._env_context["workflow_id"]
        return value

    @property
    def vars(self) -> dict[str, Any]:
        """The workflow's variables (`RC_WF_VARS_JSON`, else the file `RC_WF_VARS_FILE`)."""
        return dict(self._env_context["vars"])

    @property
    def commit(self) -> str | None:
        """The commit SHA: from the environment, else the checkout's HEAD."""
        value: str | None = self._values()["commit"]
        return value

    @property
    def ref(self) -> str | None:
        """The git ref: from the environment, else derived from the branch or the tag."""
        value: str | None = self._values()["ref"]
        return value

    # -- triggers ---------------------------------------------------------------------

    def trigger_job(
        self,
        job_name: str,
        env: Mapping[str, str] | None = None,
        depends_on: Sequence[str] | None = None,
        condition: str = "all_success",
        **fields: Any,
    ) -> str:
        """Add a job, checked at once; return its name (for `depends_on`).

        `fields` are the coordinator's job fields (`container_image`, `timeout`, ...).
        A refused job raises TriggerError naming it and this call's line, and the
        context will write nothing.
        """
        job = self._book.trigger(caller_location(), job_name, env, depends_on, condition,
                                 fields)
        for warning in warnings_for([job]):
            say(render([warning]))
        return job.name

    submit_job = trigger_job

    def workflow(self, name: str, vars: Mapping[str, Any] | None = None) -> str:
        """Declare a named workflow (its own VCS check and job graph, with initial
        `vars`); `trigger_job(..., workflow=name)` puts a job in it. Returns the name."""
        return self._book.declare(caller_location(), name, vars)

    def flush_triggers(self) -> None:
        """Append the jobs triggered since the last flush to the triggers file.

        Atomic and locked against concurrent writers; flushing again writes nothing
        twice. On any error (a refused trigger, an unknown dependency, a cycle, an
        invalid existing file) the file is left exactly as it was.
        """
        where = caller_location()
        book = self._book
        with book.lock:
            if book.refused:
                raise TriggerError(
                    render(book.refused, "nothing was written: a trigger was refused"),
                    book.refused,
                )
            path = os.fspath(self.triggers_file)
            if not book.pending:
                say(f"no new jobs; {path} was not written")
                return
            if self.submit:
                self._submitter.check(self.job_id)
            result = write_pending(book, path, job_id=self.job_id, commit=self.commit,
                                   max_output_bytes=self._limits.max_output_bytes,
                                   where=where)
            count = len(book.take())
        say_written(path, count, result)
        if self.submit:
            self._submitter.submit(path, self.job_id)

    # -- workflow state ---------------------------------------------------------------

    def workflow_vars(self) -> dict[str, Any]:
        """The workflow's variables (`RC_WF_VARS_JSON`, else the file `RC_WF_VARS_FILE`,
        else empty); WorkflowError at construction when malformed."""
        return self.vars

    def set_workflow_var(self, key: str, value: Any) -> None:
        """Set a workflow variable: merged into the workflow output file at once,
        atomically. WorkflowError when the key or value cannot be stored."""
        set_state(self.workflow_output_file, "vars", key, value)

    def set_workflow_output(self, key: str, value: Any) -> None:
        """Record an output of this job (stored by the coordinator as
        `<job name>.<key>`): merged into the workflow output file at once, atomically."""
        set_state(self.workflow_output_file, "outputs", key, value)

    # -- questions --------------------------------------------------------------------

    def changed_files(
        self,
        from_ref: str | None = None,
        to_ref: str | None = None,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """Paths changed between two refs (a rename lists both paths).

        With no `from_ref`: for a pull request what it changed (`BASE_SHA...HEAD`), else
        the last commit (`HEAD^` to `HEAD`).

        `base_dir` defaults to the source directory; WorkflowError when a ref is missing.
        """
        paths: list[str] = self._call("changed_files", from_ref, to_ref, base_dir_arg(base_dir))
        return paths

    def git_info(self, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """`branch`, `commit`, `short_commit`, `tag`, `remote_url`; None when unknown."""
        info: dict[str, Any] = self._call("git_info", base_dir_arg(base_dir))
        return info

    def is_job_running(self, job_name: str) -> bool:
        """Whether the coordinator has a job of that name submitted, queued, running or
        cancelling. WorkflowError when it is not configured or cannot answer."""
        return bool(self._call("is_job_running", job_name))

    def get_job_result(self, job_name: str) -> dict[str, Any] | None:
        """The most recent finished job of that name, or None."""
        result: dict[str, Any] | None = self._call("get_job_result", job_name)
        return result

    def log_next_job(self, job_name: str, reason: str = "") -> None:
        """Say on stderr which job should run next."""
        self._call("log_next_job", job_name, reason)

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return self._functions[name](*args)
        except BuiltinError as err:
            raise WorkflowError(str(err)) from None

    def _warn_unwritten(self) -> None:
        if self._book.pending and not self._book.refused:
            say(f"warning: {count_jobs(len(self._book.pending))} triggered but never "
                f"written to {self.triggers_file}: call flush_triggers() or use "
                "workflow_context()")


class PullRequest:
    """A pull request event's facts, as `ctx.pr` has them in `pipeline.star`."""

    __slots__ = ("actor", "base_ref", "base_sha", "base_url", "head_ref", "head_url",
                 "is_fork", "number")

    def __init__(self, *, number: int | None, head_ref: str | None, base_ref: str | None,
                 base_sha: str | None, head_url: str | None, base_url: str | None,
                 is_fork: bool, actor: str | None) -> None:
        self.number = number
        self.head_ref = head_ref
        self.base_ref = base_ref
        self.base_sha = base_sha
        self.head_url = head_url
        self.base_url = base_url
        self.is_fork = is_fork
        self.actor = actor

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"PullRequest({fields})"


def _policy_from_environment() -> Policy:
    from engine.policy import load_policy, policy_files

    try:
        return load_policy(policy_files((), os.environ))
    except UsageError as failure:
        raise WorkflowError(render(failure.diagnostics), failure.diagnostics) from None
