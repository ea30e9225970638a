"""The inputs snapshot: everything one run reads from the environment, taken once.

Nothing downstream reads `os.environ` again. The API token was already taken out of
the environment (`engine.common.secret`) and arrives here wrapped.
"""

from __future__ import annotations

import os
import re

from engine.common.record import Record
from engine.common.secret import Secret
from engine.core.diagnostics import Diagnostic, Location, PipelineFailed, UsageError
from engine.run.event import EnvReading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

DEFAULT_SRC = "/job/src"
DEFAULT_TRIGGERS = "/job/triggers.json"


_MENTIONS_CTX = re.compile(r"\bctx\b")


class Inputs(Record):
    """What one run evaluates and where its result goes. Paths are strings."""

    __slots__ = (
        "code_dir",
        "context",
        "coordinator_url",
        "environment",
        "pipeline_name",
        "pipeline_path",
        "pipeline_text",
        "src_dir",
        "token",
        "triggers_file",
        "workflow_id",
    )

    def __init__(self, *, src_dir: str, pipeline_path: str, pipeline_name: str,
                 pipeline_text: str, triggers_file: str, context: dict[str, Any],
                 coordinator_url: str | None, token: Secret | None,
                 workflow_id: str | None,
                 environment: dict[str, str | None] | None = None,
                 code_dir: str | None = None) -> None:
        self.src_dir = src_dir
        # Where git questions go: the code checkout, which in an eval job is not where
        # the (trusted) pipeline was read.
        self.code_dir = code_dir or src_dir
        self.pipeline_path = pipeline_path
        self.pipeline_name = pipeline_name
        self.pipeline_text = pipeline_text
        self.triggers_file = triggers_file
        self.context = context
        self.coordinator_url = coordinator_url
        self.token = token
        self.workflow_id = workflow_id
        # Every variable the snapshot looked up, with its value (None: unset or empty).
        self.environment = environment if environment is not None else {}

    def needs_repository_context(self) -> bool:
        """True when ctx is used and some of its git facts are not in the environment.

        The branch is asked of the checkout only when the event could have one (a push,
        or no event named): a tag or a pull request has no branch, whatever is checked out.
        """
        from engine.run.event import PUSH

        keys = ["commit"]
        if self.context.get("event") in (None, PUSH):
            keys.append("branch")
        missing = any(self.context.get(k) is None for k in keys)
        return missing and bool(_MENTIONS_CTX.search(self.pipeline_text))


def read_context(reading: EnvReading) -> dict[str, Any]:
    """`ctx` values from the environment (see engine.run.event); empty counts as unset."""
    from engine.run.event import read_event

    return read_event(reading)


def snapshot(
    *,
    src: str | os.PathLike[str] | None,
    pipeline: str | os.PathLike[str] | None,
    triggers_file: str | os.PathLike[str] | None,
    env: Mapping[str, str],
    token: Secret | None,
) -> Inputs:
    """Read the pipeline file and the environment once; raise UsageError when unusable."""
    for name, value in env.items():
        # A value that is not UTF-8 (a branch named `feat-\xff`) arrives with surrogates.
        if name.startswith(("REACTORCIDE_", "RC_WF_")) and not value.isascii() and any(
                "\udc80" <= char <= "\udcff" for char in value):
            raise UsageError(f"the environment variable {name} is not valid UTF-8", name)
    reading = EnvReading(env)
    if src:
        src_dir = checked_src(os.fspath(src))
    else:
        src_dir = reading.get("REACTORCIDE_CODE_DIR") or default_src(reading)
    pipeline_path = (os.fspath(pipeline) if pipeline
                     else os.path.normpath(os.path.join(src_dir, "pipeline.star")))
    text = read_pipeline(pipeline_path, src_dir)
    return assemble(src_dir=src_dir, pipeline_path=pipeline_path, pipeline_text=text,
                    triggers_file=triggers_file, reading=reading, token=token)


# Set by the worker in every job: their presence means "inside a job", where the
# checkout is /job/src even when it is missing (then the error says so).
_JOB_MARKERS = ("REACTORCIDE_JOB_ID", "REACTORCIDE_JOB_DIR", "REACTORCIDE_IN_CONTAINER")


def default_src(reading: EnvReading) -> str:
    """/job/src inside a job; elsewhere the top level of the git repository holding the
    current directory (found by looking for `.git`, without running git), else the
    current directory."""
    if reading.get(*_JOB_MARKERS) or os.path.isdir(DEFAULT_SRC):
        return DEFAULT_SRC
    from engine.run.where import repository_top

    here = os.getcwd()
    top = repository_top(here)
    return os.path.relpath(top, here) if top else "."


def checked_src(src: str) -> str:
    """An explicit --src: it must be an existing directory (UsageError otherwise)."""
    if not os.path.isdir(src):
        why = "does not exist" if not os.path.lexists(src) else "is not a directory"
        raise UsageError(f"the source directory {why}", src)
    return src


def read_pipeline(pipeline_path: str, src_dir: str) -> str:
    """The pipeline file's text; UsageError when missing, PipelineFailed when not UTF-8.

    A pipeline inside the source directory comes from the repository: as a symbolic
    link it must not lead out of it (to /proc/self/environ, say).
    """
    from engine.capabilities.source_tree import MAX_SOURCE_BYTES

    if not os.path.isfile(pipeline_path):
        if not os.path.exists(pipeline_path):
            raise UsageError(f"pipeline file not found (source directory {src_dir})",
                             pipeline_path)
        raise UsageError("pipeline path is not a file", pipeline_path)
    root = os.path.abspath(src_dir)
    if os.path.abspath(pipeline_path).startswith(root + os.sep):
        real_root = os.path.realpath(src_dir)
        if not os.path.realpath(pipeline_path).startswith(real_root + os.sep):
            raise UsageError("the pipeline file is a link to a file outside the source "
                             "directory, which is refused", pipeline_path)
    from engine.common.regular_file import FileRefused, read_regular

    try:
        raw = read_regular(pipeline_path, MAX_SOURCE_BYTES, what="the pipeline file")
    except FileRefused as err:
        raise UsageError(str(err), pipeline_path) from None
    except OSError as err:
        raise UsageError(f"cannot read the pipeline: {err.strerror}", pipeline_path) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        col = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        raise PipelineFailed(
            [Diagnostic(Location(pipeline_path, line, col), "the pipeline is not valid UTF-8")]
        ) from None


def assemble(*, src_dir: str, pipeline_path: str, pipeline_text: str,
             triggers_file: str | os.PathLike[str] | None,
             reading: EnvReading | Mapping[str, str], token: Secret | None) -> Inputs:
    """The inputs of a run whose pipeline text is already known (read, recorded or given
    by a test case), with the rest taken from the environment `reading`."""
    if not isinstance(reading, EnvReading):
        reading = EnvReading(reading)
    context = read_context(reading)
    from engine.policy.files import POLICY_ENV

    reading.get(POLICY_ENV)  # which policy files the environment named, for a transcript
    return Inputs(
        src_dir=src_dir,
        pipeline_path=pipeline_path,
        pipeline_name=pipeline_path,
        pipeline_text=pipeline_text,
        triggers_file=os.fspath(
            triggers_file or reading.get("REACTORCIDE_TRIGGERS_FILE") or DEFAULT_TRIGGERS
        ),
        context=context,
        coordinator_url=reading.get("REACTORCIDE_COORDINATOR_URL"),
        token=token,
        workflow_id=reading.get("RC_WF_ID"),
        environment=reading.seen,
    )
