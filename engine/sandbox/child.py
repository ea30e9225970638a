"""The sandboxed child: drop what it does not need, evaluate, report, exit.

Runs in a forked process. It never returns: it always ends with `os._exit`, so no
buffer or handler inherited from the parent runs twice.
"""

from __future__ import annotations

import contextlib
import os

from engine.sandbox import protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from engine.common.secret import Secret

EXIT_REPORTED = 0
EXIT_UNREPORTED = 70


def forget_secret(secret: Secret | None) -> bool:
    """Drop the environment and erase every copy of the token the forked heap holds.

    Done before the request arrives: erasing later would also blank the pipeline's own
    text wherever it happens to spell the token, and that would tell it its guess was
    right.
    """
    from engine.sandbox import fence

    # The environment may hold the API token: the child gets none of it.
    os.environ.clear()
    os.environ["RUST_BACKTRACE"] = "0"
    return fence.erase_from_memory(secret) if secret is not None else False


def harden(limits: dict[str, Any], keep_fds: tuple[int, ...], stderr_fd: int,
           erased: bool = False) -> list[str]:
    """Apply OS limits and drop inherited state before any pipeline code runs.

    Returns the protections now active.
    """
    from engine.sandbox import fence

    # The limit bounds what the evaluation maps on top of what the child inherited at
    # the fork: a caller of the Python API may be a large process (threads' malloc
    # arenas alone reserve gigabytes of address space), and its size is not the
    # pipeline's doing.
    memory = _address_space_in_use() + int(limits["memory_mb"]) * 1024 * 1024
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(stderr_fd, 2)
    os.chdir("/")
    active = fence.limit_descriptors({0, 1, 2, *keep_fds})
    active += fence.limit_resources(memory, _kernel_cpu_seconds(limits))
    if erased:
        active.append("token erased from memory")
    return active


def _kernel_cpu_seconds(limits: dict[str, Any]) -> int:
    """The kernel's CPU limit. When the CPU budget is no smaller than the wall clock's,
    the wall clock (and the parent's kill after its grace period) always comes first for
    a single-threaded evaluation, so the kernel's limit is only a backstop set past it:
    the same program then reports the same limit however loaded the machine is."""
    cpu = int(limits["cpu_seconds"])
    if float(limits["wall_seconds"]) <= cpu:
        return cpu + int(float(limits.get("kill_grace_seconds", 0.5))) + 2
    return cpu


def _address_space_in_use() -> int:
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def warm_up() -> list[str]:
    """Fence the process, load the interpreter and build its globals, before any request
    arrives. Everything the request needs is imported here: once limited, the child
    may not be able to open module files."""
    import fnmatch  # noqa: F401  (policy globs)
    import json  # noqa: F401

    import pipeline_builtins.jobs  # noqa: F401
    from engine.interpreter import evaluate

    evaluate.pipeline_globals()
    from engine.sandbox import fence

    return fence.isolate_process()


def child_main(to_parent: int, from_parent: int, stderr_fd: int,
               secret: Secret | None = None) -> NoReturn:
    """Entry point of the forked child: warm up, wait for the request, run it."""
    import gc

    # The child lives for one evaluation and makes no lasting cycles (pipeline code has
    # no try/except: the first builtin error ends it); the cyclic collector would only
    # rescan the jobs it collects.
    gc.disable()
    try:
        active = warm_up()
        erased = forget_secret(secret)
        del secret
        request = protocol.receive(from_parent)
        if request is None:  # the parent decided not to use this child
            os._exit(EXIT_REPORTED)
        if request.get("mode") == "check":
            import engine.interpreter.lint_jobs  # noqa: F401  (before the fences close)
        active += harden(request["limits"], (to_parent, from_parent), stderr_fd, erased)
        reply = _run(request, to_parent, from_parent)
        reply["protections"] = active
        protocol.send(to_parent, reply)
    except MemoryError:
        _try_send(to_parent, {"type": "limit", "limit": "memory"})
        os._exit(EXIT_UNREPORTED)
    except BaseException as err:  # a Rust panic is a BaseException
        if looks_like_memory(str(err)):
            _try_send(to_parent, {"type": "limit", "limit": "memory"})
        else:
            _try_send(to_parent, {"type": "crash", "message": f"{type(err).__name__}: {err}"})
        os._exit(EXIT_UNREPORTED)
    os._exit(EXIT_REPORTED)


def looks_like_memory(text: str) -> bool:
    """Whether a failure's text says that an allocation or a mapping was refused."""
    lowered = text.lower()
    return any(
        marker in lowered
        # A null object pointer is how the binding meets an allocation Python refused.
        for marker in ("memory", "failed to map segment", "cannot allocate", "enomem",
                       "pyobject pointer is null")
    )


def _try_send(fd: int, message: dict[str, Any]) -> None:
    with contextlib.suppress(BaseException):
        protocol.send(fd, message)


def _run(request: dict[str, Any], to_parent: int, from_parent: int) -> dict[str, Any]:
    from engine.core.diagnostics import PipelineFailed
    from engine.core.limits import Limits

    limits = Limits.from_json(request["limits"])
    mode = request.get("mode")
    if mode not in ("check", "evaluate"):
        return {"type": "crash", "message": f"unknown request mode {mode!r}"}
    try:
        if mode == "check":
            from engine.interpreter.lint import lint_sources

            diagnostics = lint_sources(request["sources"], request.get("groups"),
                                       request.get("rules"))
            return {"type": "checked", "diagnostics": [d.to_json() for d in diagnostics]}
        state: dict[str, Any] = {}
        jobs = _evaluate(request, limits, to_parent, from_parent, state)
    except PipelineFailed as failure:
        # A message longer than the whole print budget cannot be shown anyway: it is cut
        # here, so that a huge fail() message is not even sent.
        failed = [d.to_json() for d in failure.diagnostics]
        for diagnostic in failed:
            text = diagnostic.get("message")
            if isinstance(text, str) and len(text) > limits.max_print_bytes:
                diagnostic["message"] = text[:limits.max_print_bytes]
        return {"type": "failed", "diagnostics": failed,
                "jobs": getattr(failure, "triggered", None),
                "evaluated": getattr(failure, "evaluated", True)}
    return {"type": "result", "jobs": jobs, **state}


def _evaluate(request: dict[str, Any], limits: Any, to_parent: int,
              from_parent: int, extra: dict[str, Any]) -> list[dict[str, Any]]:
    from engine.core.diagnostics import PipelineFailed
    from engine.core.validate import JobRules
    from engine.interpreter.evaluate import PipelineSource, evaluate
    from engine.sandbox.outbox import JobOutbox
    from engine.sandbox.proxies import (
        Channel,
        RemoteGit,
        RemoteJobState,
        RemoteOutput,
        RemoteSources,
    )
    from pipeline_builtins import Host
    from pipeline_builtins.jobs import JobCollector

    source = PipelineSource(request["source"]["name"], request["source"]["text"])
    channel = Channel(to_parent, from_parent)
    host = Host(
        git=RemoteGit(channel),
        job_state=RemoteJobState(channel),
        output=RemoteOutput(channel, limits.max_print_bytes),
        # The outbox takes every job's fields: the book keeps only what its checks need.
        collector=JobCollector({source.name: source.text}, limits.max_jobs,
                               JobRules.from_json(request["rules"]), keep_fields=False),
        context=request.get("context", {}),
        disabled=tuple(request.get("disabled", ())),
        sources=RemoteSources(channel),
    )
    # Asked to, the jobs go to the parent in slices while the pipeline runs.
    outbox = JobOutbox(channel.notify if request.get("stream_jobs") else None)
    host.collector.on_job = outbox.add
    try:
        evaluate(source, host, limits, float(request["deadline"]))
    except PipelineFailed as failure:
        failure.triggered = len(host.collector.jobs)  # type: ignore[attr-defined]
        raise
    state = host.state.to_json()
    if state["vars"] or state["outputs"]:
        extra["workflow_state"] = state
    if host.collector.declared.vars:
        extra["workflows"] = host.collector.declared.to_json()
    items, places = outbox.rest()
    extra["sites"] = places
    return items
