"""`WorkflowContext` and `workflow_context`: the guide's workflow API over the engine's
job model, validation, writer, git and coordinator code."""

from __future__ import annotations

import atexit
import itertools
import linecache
import os
import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from engine.capabilities.base import CapabilityError
from engine.core.diagnostics import Diagnostic, Location, PipelineFailed, UsageError
from engine.core.jobs import Job, count_jobs
from engine.core.validate import JobError, normalize_job
from engine.run.context import complete_context, context_from_env, job_state
from engine.run.inputs import DEFAULT_SRC, DEFAULT_TRIGGERS
from engine.triggers.document import warnings_for, write_jobs
from pipeline_builtins.coordinator import coordinator_builtins
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.git import git_builtins
from pipeline_builtins.output import output_builtins
from workflow.errors import TriggerError, WorkflowError
from workflow.repository import Repositories, base_dir_arg

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import FrameType
    from typing import Any

    from engine.policy.layering import Policy

# Frames of these packages are never "the script line": the caller is looked up past them.
_INTERNAL_MODULES = frozenset({"workflow", "contextlib"})


class WorkflowContext:
    """One script's triggered jobs, where they are written, and the answers they rest on.

    `triggers_file` defaults to `$REACTORCIDE_TRIGGERS_FILE`, else `/job/triggers.json`;
    `src_dir` (where git questions go) to `$REACTORCIDE_CODE_DIR`, else `/job/src`;
    `policy` (an `engine.policy.layering.Policy`: its job rules, job and output limits, and
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
        self._rules = self.policy.job_rules
        self._limits = self.policy.limits
        try:
            self._env_context = context_from_env(env)
        except UsageError as failure:
            raise WorkflowError(_render(failure.diagnostics), failure.diagnostics) from None
        self._context: dict[str, Any] | None = None
        self._repositories = Repositories(
            self.src_dir,
            env_branch=self._env_context["branch"],
            on_missing_history=str(self.policy.get("git", "on_missing_history")),
            warn=lambda text: _say(f"warning: {text}"),
        )
        from engine.triggers.submit import submits_by_default

        self._coordinator_url = env.get("REACTORCIDE_COORDINATOR_URL") or None
        self._token = env.get("REACTORCIDE_API_TOKEN") or None
        self._allow_insecure_transport = allow_insecure_transport
        # None: submit when the job can (as upstream's flush_triggers does).
        self.submit = submits_by_default(self._coordinator_url, self._token,
                                         self._env_context["job_id"]) if submit is None else submit
        state = job_state(
            env.get("REACTORCIDE_COORDINATOR_URL"),
            env.get("REACTORCIDE_API_TOKEN"),
            allow_insecure_transport=allow_insecure_transport,
            workflow_id=env.get("RC_WF_ID") or None,
            job_id=self._env_context["job_id"],
        )
        self._functions: dict[str, Callable[..., Any]] = {
            **git_builtins(self._repositories, str(self._env_context["change_base"])),
            **coordinator_builtins(state),
            **output_builtins(_Stderr()),
        }
        self._lock = threading.RLock()
        self._pending: list[Job] = []
        self._by_name: dict[str, Job] = {}
        self._refused: list[Diagnostic] = []
        from engine.core.workflows import Declared

        self._declared = Declared()

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
        location = caller_location()
        with self._lock:
            try:
                limit = self._limits.max_jobs
                if len(self._by_name) >= limit:
                    raise JobError(f"job {job_name!r}: job limit of {limit} jobs exceeded")
                extra = _plain(fields)
                from engine.core.workflows import WorkflowError as NamingError

                try:
                    workflow = self._declared.check_use(extra.pop("workflow", None))
                except NamingError as err:
                    raise JobError(f"job {job_name!r}: {err}") from None
                normalized = normalize_job(
                    _plain(job_name), _plain(env), _plain(depends_on), _plain(condition),
                    extra, self._rules,
                )
                name: str = normalized["job_name"]
                first = self._by_name.get(name)
                if first is not None:
                    raise JobError(f'job "{name}" is triggered twice (first at {first.location})')
            except JobError as err:
                problem = Diagnostic(location, str(err))
                self._refused.append(problem)
                raise TriggerError(_render([problem]), [problem]) from None
            from engine.core.job_defaults import defaults_for, fill

            job = Job(name, fill(normalized, defaults_for(self._env_context)), location,
                      workflow=workflow)
            self._pending.append(job)
            self._by_name[name] = job
        for warning in warnings_for([job]):
            _say(_render([warning]))
        return name

    submit_job = trigger_job

    def workflow(self, name: str, vars: Mapping[str, Any] | None = None) -> str:
        """Declare a named workflow (its own VCS check and job graph, with initial
        `vars`); `trigger_job(..., workflow=name)` puts a job in it. Returns the name."""
        from engine.core.workflows import WorkflowError as NamingError

        location = caller_location()
        with self._lock:
            try:
                return self._declared.declare(_plain(name), _plain(vars))
            except NamingError as err:
                problem = Diagnostic(location, f"workflow: {err}")
                self._refused.append(problem)
                raise TriggerError(_render([problem]), [problem]) from None

    def flush_triggers(self) -> None:
        """Append the jobs triggered since the last flush to the triggers file.

        Atomic and locked against concurrent writers; flushing again writes nothing
        twice. On any error (a refused trigger, an unknown dependency, a cycle, an
        invalid existing file) the file is left exactly as it was.
        """
        where = caller_location()
        with self._lock:
            if self._refused:
                raise TriggerError(
                    _render(self._refused, "nothing was written: a trigger was refused"),
                    self._refused,
                )
            path = os.fspath(self.triggers_file)
            if not self._pending:
                _say(f"no new jobs; {path} was not written")
                return
            if self.submit:
                self._check_submit()
            from engine.core.workflows import cross_workflow_problems

            crossing = [Diagnostic(job.location, text)
                        for job, text in cross_workflow_problems(self._pending)]
            if crossing:
                raise TriggerError(_render(crossing, "nothing was written"), crossing)
            try:
                _make_parent(path)
                result = write_jobs(
                    path,
                    self._pending,
                    job_id=self.job_id,
                    commit=self.commit,
                    max_output_bytes=self._limits.max_output_bytes,
                    where=where,
                    rules=self._rules,
                    declared=self._declared,
                )
            except PipelineFailed as failure:
                raise TriggerError(
                    _render(failure.diagnostics, "nothing was written"), failure.diagnostics
                ) from None
            except UsageError as failure:
                raise WorkflowError(
                    _render(failure.diagnostics, "nothing was written"), failure.diagnostics
                ) from None
            count = len(self._pending)
            self._pending = []
        if result.existing_count:
            _say(f"appended {count_jobs(count)} to {path} (now "
                 f"{count_jobs(result.existing_count + count)}, "
                 f"operation_id {result.operation_id})")
        else:
            _say(f"wrote {count_jobs(count)} to {path} (operation_id {result.operation_id})")
        if self.submit:
            self._submit(path)

    def _check_submit(self) -> None:
        from engine.triggers.submit import SubmitError, check_target

        try:
            check_target(self._coordinator_url, self._token, self.job_id,
                         allow_insecure_transport=self._allow_insecure_transport)
        except SubmitError as error:
            raise WorkflowError(f"nothing was written: {error}") from None

    def _submit(self, path: str) -> None:
        """POST the written file, as `python -m engine` does; WorkflowError (the file
        kept) when the coordinator does not take it."""
        from engine.capabilities.coordinator.http import budget_for
        from engine.triggers.submit import SubmitError, shown_ids, submit_file

        try:
            created = submit_file(self._coordinator_url or "", self._token or "",
                                  self.job_id or "", path,
                                  allow_insecure_transport=self._allow_insecure_transport,
                                  budget_seconds=budget_for(self._limits.wall_seconds))
        except SubmitError as error:
            text = str(error)
            if self._token:
                text = text.replace(self._token, "[redacted]")
            raise WorkflowError(f"{text}; {path} is kept; no job was created from it") from None
        _say(f"submitted {path}: the coordinator created {count_jobs(len(created))}"
             + (f": {shown_ids(created)}" if created else ""))

    # -- workflow state ---------------------------------------------------------------

    def workflow_vars(self) -> dict[str, Any]:
        """The workflow's variables (`RC_WF_VARS_JSON`, else the file `RC_WF_VARS_FILE`,
        else empty); WorkflowError at construction when malformed."""
        return self.vars

    def set_workflow_var(self, key: str, value: Any) -> None:
        """Set a workflow variable: merged into the workflow output file at once,
        atomically. WorkflowError when the key or value cannot be stored."""
        self._set_state("vars", key, value)

    def set_workflow_output(self, key: str, value: Any) -> None:
        """Record an output of this job (stored by the coordinator as
        `<job name>.<key>`): merged into the workflow output file at once, atomically."""
        self._set_state("outputs", key, value)

    def _set_state(self, section: str, key: str, value: Any) -> None:
        from engine.core import workflow_state
        from engine.triggers import state_file

        try:
            checked = workflow_state.check_entry(key, _plain(value))
            other = "outputs" if section == "vars" else "vars"
            state_file.write(os.fspath(self.workflow_output_file),
                                 {section: {checked: _plain(value)}, other: {}})
        except workflow_state.StateError as err:
            raise WorkflowError(f"set_workflow_{section.removesuffix('s')}: {err}") from None
        except UsageError as failure:
            raise WorkflowError(_render(failure.diagnostics), failure.diagnostics) from None

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
        if self._pending and not self._refused:
            _say(f"warning: {count_jobs(len(self._pending))} triggered but never written to "
                 f"{self.triggers_file}: call flush_triggers() or use workflow_context()")


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


# -- the context module-level functions use -----------------------------------------

_ACTIVE: ContextVar[tuple[WorkflowContext, ...]] = ContextVar("workflow_active", default=())
# Every open block, in opening order, whichever thread opened it: a worker thread started
# inside a block begins with an empty ContextVar, and must still reach that block.
_OPEN: list[WorkflowContext] = []
_default: WorkflowContext | None = None
_default_lock = threading.Lock()


def current_context() -> WorkflowContext:
    """The innermost open `workflow_context` block of this thread (or asyncio task); in a
    thread that opened none, the most recently opened block still open; else a
    process-wide context."""
    active = _ACTIVE.get()
    if active:
        return active[-1]
    global _default
    with _default_lock:
        if _OPEN:
            return _OPEN[-1]
        if _default is None:
            _default = WorkflowContext()
            atexit.register(_default._warn_unwritten)
        return _default


@contextmanager
def workflow_context(
    triggers_file: str | os.PathLike[str] | None = None,
    *,
    src_dir: str | os.PathLike[str] | None = None,
    policy: Policy | None = None,
    allow_insecure_transport: bool = False,
    submit: bool | None = None,
) -> Iterator[WorkflowContext]:
    """A `WorkflowContext` whose triggers are flushed when the block ends normally, and
    not at all when it ends with an exception. Inside the block, the module-level
    functions (`trigger_job`, ...) act on it too."""
    ctx = WorkflowContext(triggers_file, src_dir=src_dir, policy=policy,
                          allow_insecure_transport=allow_insecure_transport, submit=submit)
    token = _ACTIVE.set((*_ACTIVE.get(), ctx))
    with _default_lock:
        _OPEN.append(ctx)
    try:
        yield ctx
    finally:
        _ACTIVE.reset(token)
        with _default_lock:
            _OPEN.remove(ctx)
    ctx.flush_triggers()


# -- helpers ------------------------------------------------------------------------


class _Stderr:
    """Where `log_next_job` writes: this process's stderr at the time of the call."""

    def write(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _policy_from_environment() -> Policy:
    from engine.policy.layering import load_policy, policy_files

    try:
        return load_policy(policy_files((), os.environ))
    except UsageError as failure:
        raise WorkflowError(_render(failure.diagnostics), failure.diagnostics) from None


def _plain(value: Any) -> Any:
    """Arguments as `pipeline.star` passes them: tuples become lists, and containers are
    copied, so that changing them after the call does not change the job."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _make_parent(path: str) -> None:
    directory = os.path.dirname(path)
    if directory:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as err:
            raise UsageError(
                f"cannot create the triggers file's directory: {err.strerror}", path
            ) from None


def caller_location() -> Location:
    """Where the script called into this package: file, line and column of the call."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (
        str(frame.f_globals.get("__name__", "")).split(".", 1)[0] in _INTERNAL_MODULES
    ):
        frame = frame.f_back
    if frame is None:
        return Location("<unknown>")
    file = frame.f_code.co_filename
    line, col = frame.f_lineno, 0
    position = next(itertools.islice(frame.f_code.co_positions(), frame.f_lasti // 2, None),
                    None)
    if position is not None and position[0] is not None:
        line = position[0]
        if position[2] is not None:
            # co_positions counts UTF-8 bytes; a Location counts characters.
            text = linecache.getline(file, line).encode("utf-8")
            col = len(text[: position[2]].decode("utf-8", "replace")) + 1
    return Location(file, line, col)


def _render(diagnostics: list[Diagnostic], note: str = "") -> str:
    """The problems as the engine shows them (with the source line and a caret)."""
    sources = {d.location.file: "".join(linecache.getlines(d.location.file))
               for d in diagnostics}
    text = "\n".join(d.render(sources) for d in diagnostics)
    return f"{text}\n{note}" if note else text
