"""The triggers file: read what is there, merge, and write atomically under a lock.

Format: `{"type": "trigger_job", "trigger_type": "runnerlib", "operation_id": ...,
"jobs": [...]}`, keys in a fixed
order, 2-space indent, UTF-8, final newline. Writes go to a temporary file in the same
directory, are fsynced and renamed over the target while an exclusive lock on the
directory is held, so concurrent ingests into one file lose no job and a reader never
sees half a file.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
from contextlib import contextmanager

from engine.common.record import Record
from engine.core.diagnostics import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from engine.core.validate import JobRules

TYPE = "trigger_job"
MAX_BYTES = 8 * 1024 * 1024  # the worker's cap on a triggers file
# Tells the coordinator to take the plain path (no eval authority checks); an older
# file without it is still read.
TRIGGER_TYPE = "runnerlib"
_TOP_KEYS = ("type", "trigger_type", "operation_id", "jobs")


class Existing(Record):
    """A valid triggers file found on disk."""

    __slots__ = ("jobs", "operation_id")

    def __init__(self, operation_id: str | None, jobs: list[dict[str, Any]]) -> None:
        self.operation_id = operation_id
        self.jobs = jobs

    @property
    def names(self) -> list[str]:
        """Job names already in the file."""
        return [str(job["job_name"]) for job in self.jobs]


def target(path: str) -> str:
    """Where the triggers file really is: a symbolic link at `path` is followed (and
    written through), never replaced by a plain file."""
    return os.path.realpath(path) if os.path.islink(path) else path


def read_existing(path: str, rules: JobRules | None = None) -> Existing | None:
    """The file's content, None when absent; UsageError when it is anything but valid."""
    raw = read_bytes(path)
    return None if raw is None else parse_existing(raw, path, rules)


def read_bytes(path: str) -> bytes | None:
    """The file's raw bytes, None when absent; UsageError when it cannot be read or is
    not a regular file of at most MAX_BYTES."""
    from engine.common.regular_file import FileRefused, read_regular

    try:
        return read_regular(target(path), MAX_BYTES)
    except FileNotFoundError:
        return None
    except FileRefused as err:
        raise UsageError(f"existing triggers file {err.reason}; it was left untouched",
                         path) from None
    except OSError as err:
        raise UsageError(f"cannot read the triggers file: {err.strerror}", path) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def parse_existing(raw: bytes, where: str, rules: JobRules | None = None) -> Existing:
    """Validate an existing triggers document: its shape, and each job against the same
    rules (`rules`: the current policy's) as a new one. The file is untrusted input."""

    def bad(why: str) -> UsageError:
        return UsageError(f"existing triggers file is not valid ({why}); it was left untouched",
                          where)

    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant,
                         parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError) as err:
        # ValueError also covers integers too long to convert.
        raise bad(f"not JSON: {str(err)[:200]}") from None
    except RecursionError:
        raise bad("nested too deep") from None
    if not isinstance(doc, dict):
        raise bad("not a JSON object")
    unknown = sorted(set(doc) - set(_TOP_KEYS))
    if unknown:
        raise bad(f"unexpected key {unknown[0]!r}")
    if doc.get("type") != TYPE:
        raise bad(f'"type" must be "{TYPE}"')
    if doc.get("trigger_type", TRIGGER_TYPE) != TRIGGER_TYPE:
        raise bad(f'"trigger_type" must be "{TRIGGER_TYPE}"')
    operation_id = doc.get("operation_id")
    if operation_id is not None and not isinstance(operation_id, str):
        raise bad('"operation_id" must be a string')
    jobs = doc.get("jobs")
    if not isinstance(jobs, list):
        raise bad('"jobs" must be a list')
    from engine.core.validate import JobError, normalize_document

    seen: set[str] = set()
    for index, job in enumerate(jobs):
        if not isinstance(job, dict):
            raise bad(f"jobs[{index}] is not an object")
        try:
            normalize_document(job, rules)
        except JobError as err:
            raise bad(f"jobs[{index}]: {err}") from None
        if job["job_name"] in seen:
            raise bad(f'job "{job["job_name"]}" appears twice')
        seen.add(job["job_name"])
    return Existing(operation_id, jobs)


def render(operation_id: str, jobs: list[dict[str, Any]]) -> bytes:
    """The exact bytes of a triggers document."""
    doc = {"type": TYPE, "trigger_type": TRIGGER_TYPE, "operation_id": operation_id,
           "jobs": jobs}
    # allow_nan=False: a non-finite number is not JSON; validation refuses it earlier.
    from engine.common.json_text import dumps_indented

    return dumps_indented(doc, end="\n").encode("utf-8")


def job_text(job: dict[str, Any]) -> str:
    """One job's text as `render` writes it in the `jobs` list (made as the job arrives,
    long before the document is put together)."""
    from engine.common.json_text import item_text

    return item_text(job, 2)


def render_texts(operation_id: str, texts: list[str]) -> bytes:
    """The bytes `render` gives for jobs whose texts `job_text` made."""
    from engine.common.json_text import dumps_indented

    head = dumps_indented({"type": TYPE, "trigger_type": TRIGGER_TYPE,
                           "operation_id": operation_id, "jobs": []})
    if not texts:
        return (head + "\n").encode("utf-8")
    # "jobs" is the last key: the text ends with its empty list, which the jobs fill.
    assert head.endswith('"jobs": []\n}')
    return (head[:-4] + "[\n    " + ",\n    ".join(texts) + "\n  ]\n}\n").encode("utf-8")


def render_workflows(operation_id: str, batches: list[dict[str, Any]]) -> bytes:
    """The exact bytes of a document in the `workflows` form (named workflows)."""
    doc = {"type": TYPE, "trigger_type": TRIGGER_TYPE, "operation_id": operation_id,
           "workflows": batches}
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")


@contextmanager
def locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on the triggers file's directory.

    The directory is locked rather than the file, because the file is replaced by
    rename and a lock on the old inode would not exclude the next writer.
    """
    directory = os.path.dirname(path) or "."
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as err:
        raise UsageError(
            f"cannot open the triggers file's directory: {err.strerror}", path
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes) -> None:
    """Replace `path` with `data`: temp file in the same directory, fsync, rename.

    The temp file has an unpredictable name and is created with O_EXCL, which refuses
    any file or symbolic link already there (a dangling link too), so nothing planted at
    a guessed name is ever written through, and a stale temp file left by an earlier run
    is simply not in the way. SIGTERM and SIGINT
    wait while the file is renamed into place, so that a stopped run has either written
    everything or nothing.
    """
    import signal

    directory = os.path.dirname(path) or "."
    # os.urandom is what `secrets` draws from, without its hashlib and random imports.
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(8).hex()}.tmp")
    try:
        # os.open makes the descriptor close-on-exec by itself.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except OSError as err:
        raise UsageError(f"cannot write the triggers file: {err.strerror}", path) from None
    stops = {signal.SIGTERM, signal.SIGINT}
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        try:
            os.replace(tmp, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    except OSError as err:
        raise UsageError(f"cannot write the triggers file: {err.strerror}", path) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
