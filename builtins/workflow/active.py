"""Which `WorkflowContext` the module-level functions act on: the innermost open
`workflow_context()` block, else one process-wide context."""

from __future__ import annotations

import atexit
import threading
from contextlib import contextmanager
from contextvars import ContextVar

from workflow.context import WorkflowContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    from engine.policy import Policy

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
