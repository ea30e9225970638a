"""Evaluate one pipeline with starlark-pyo3. Runs only inside the sandboxed child."""

from __future__ import annotations

import itertools
import time

from engine.capabilities.base import CapabilityError
from engine.common.record import Record
from engine.core.diagnostics import Diagnostic, Frame, Location, PipelineFailed
from engine.core.jobs import Job
from engine.core.limits import Limits
from engine.core.starlark_text import (
    PRELUDE_FILE,
    at_end_of_file,
    call_column,
    message_of,
    parse_frames,
    pointers,
    unclosed_mid_file,
)
from engine.interpreter.friendly import callee_at, enclosing_function, in_call, rewrite
from pipeline_builtins import PREDECLARED, prelude_source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pipeline_builtins import Host

PRELUDE_MODULE = "@engine//prelude"


class PipelineSource(Record):
    """One pipeline file: the name shown in messages and its text."""

    __slots__ = ("name", "text")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text


class LoadRefused(Exception):
    """A load() the engine does not allow."""


def _starlark() -> Any:
    import starlark

    return starlark


def dialect() -> Any:
    """The language accepted: Starlark with top-level if/for, def and lambda."""
    sl = _starlark()
    d = sl.Dialect.extended()
    d.enable_load = True  # so that load() reaches our loader and gets a clear error
    return d


_GLOBALS: dict[str, Any] = {}


def pipeline_globals() -> Any:
    """Starlark's standard functions plus struct, json and the functional helpers."""
    if "pipeline" not in _GLOBALS:
        sl = _starlark()
        ext = sl.LibraryExtension
        _GLOBALS["pipeline"] = sl.Globals.extended_by(
            [ext.StructType, ext.Json, ext.Map, ext.Filter, ext.Partial, ext.Typing]
        )
    return _GLOBALS["pipeline"]


def prelude_globals() -> Any:
    """The prelude's globals: the pipeline's plus `call_stack`, which only it may use."""
    sl = _starlark()
    ext = sl.LibraryExtension
    return sl.Globals.extended_by([ext.StructType, ext.Json, ext.CallStack])


_ENGINE_FRAMES = 3


def evaluate(source: PipelineSource, host: Host, limits: Limits, deadline: float) -> list[Job]:
    """Run the pipeline; return its jobs in call order or raise PipelineFailed.

    Files it loads are evaluated once each, with the same builtins and limits, and
    frozen; `host.collector.sources` gains their texts.
    """
    sl = _starlark()
    sources = host.collector.sources
    sources.setdefault(source.name, source.text)
    state: dict[str, Any] = {"cancelled": None, "asked": 0}
    # Which limit a program hits must not depend on how loaded the machine is. The
    # evaluation is single-threaded, so it cannot use more CPU than wall-clock time:
    # when the CPU budget is at least the wall clock's (the default), only the wall
    # clock is watched here and it is always the limit reported. A smaller CPU budget
    # is the operator's explicit choice and is watched too. The margin covers a garbage
    # collection of a large heap, during which nobody asks.
    watch_cpu = limits.cpu_seconds < limits.wall_seconds
    cpu_deadline = limits.cpu_seconds - min(0.5, limits.cpu_seconds / 4)
    # Memory grows with the steps taken, not with time: watched here too, it stops a
    # growing program at its line, just before the kernel's hard limit would.
    statm = _open_statm()
    # The kernel's limit is what the child inherited plus `memory_mb` (see
    # engine.sandbox.child.harden); the watch stops a program at 90 % of what is left.
    start = _address_space(statm) if statm is not None else 0
    hard = _address_space_limit(start + limits.memory_mb * 1024 * 1024)
    memory_ceiling = start + (hard - start) * _MEMORY_SHARE

    def check_cancelled() -> bool:
        if time.monotonic() > deadline:
            state["cancelled"] = "wall"
            return True
        # Asked every thousand or so steps: the clock costs well under 1 % of them.
        if watch_cpu and time.process_time() > cpu_deadline:
            state["cancelled"] = "cpu"
            return True
        state["asked"] += 1
        if statm is not None and state["asked"] % 8 == 0 and (
                _address_space(statm) > memory_ceiling):
            state["cancelled"] = "memory"
            return True
        return False

    try:
        ast = sl.parse(source.name, source.text, dialect())
    except sl.StarlarkError as err:
        failure = PipelineFailed([_translate(str(err), sources, limits, None)])
        failure.evaluated = False  # type: ignore[attr-defined]
        raise failure from None

    prelude = sl.Module()
    for name, fn in host.callables().items():
        prelude.add_callable(name, fn)
    prelude["_context"] = host.context_values()
    sl.eval(prelude, sl.parse(PRELUDE_FILE, prelude_source(), dialect()), prelude_globals())
    frozen_prelude = prelude.freeze()
    user_globals = pipeline_globals()
    names = ", ".join(f'"{n}"' for n in PREDECLARED)
    boot = sl.parse("<engine boot>", f'load("{PRELUDE_MODULE}", {names})', dialect())
    # The limit counts the pipeline's own calls: the module's frame and the deepest
    # chain of prelude frames under a builtin (trigger_job -> its helper) come on top.
    options = sl.EvalOptions(
        check_cancelled=check_cancelled,
        max_callstack_size=limits.max_callstack + _ENGINE_FRAMES,
    )

    def boot_loader(module: str) -> Any:
        if module == PRELUDE_MODULE:
            return frozen_prelude
        raise LoadRefused(module)

    def new_module() -> Any:
        module = sl.Module()
        sl.eval(module, boot, user_globals, sl.FileLoader(boot_loader))
        return module

    loaded: dict[str, Any] = {}
    loading: list[str] = [source.name]

    def user_loader(module_id: str) -> Any:
        try:
            found = host.sources.read(module_id, loading[-1])
        except CapabilityError as err:
            raise LoadRefused(str(err)) from None
        name, text = found["name"], found["text"]
        if name in loaded:
            return loaded[name]
        if name in loading:
            cycle = [*loading[loading.index(name):], name]
            raise LoadRefused("load cycle: " + " -> ".join(cycle))
        sources[name] = text
        module = new_module()
        loading.append(name)
        try:
            sl.eval_with(options, module, sl.parse(name, text, dialect()), user_globals,
                         sl.FileLoader(user_loader))
        finally:
            loading.pop()
        loaded[name] = module.freeze()
        return loaded[name]

    main = new_module()
    try:
        sl.eval_with(options, main, ast, user_globals, sl.FileLoader(user_loader))
    except sl.StarlarkError as err:
        if host.collector.failure is not None:
            raise PipelineFailed([host.collector.failure]) from None
        raise PipelineFailed(
            [_translate(str(err), sources, limits, state["cancelled"])]
        ) from None
    return host.collector.jobs


def _translate(
    text: str, sources: dict[str, str], limits: Limits, cancelled: str | None
) -> Diagnostic:
    frames = parse_frames(text, sources)
    user_pointers = [p for p in pointers(text) if p.file != PRELUDE_FILE]
    if user_pointers:
        location = user_pointers[0]
    elif frames:
        location = _call_into_prelude(text, sources) or frames[-1].location
    else:
        location = Location(next(iter(sources)))
    if frames and (frames[-1].location.file, frames[-1].location.line) == (
        location.file,
        location.line,
    ):
        last = frames[-1]
        frames[-1] = Frame(location, last.function, last.source)
    elif frames and location.file in sources and location.line > 0:
        # The frame the error happened in is not in the binding's traceback: add it,
        # so that the stack goes through every file down to the failing line.
        source = sources[location.file]
        lines = source.splitlines()
        text_line = lines[location.line - 1].strip() if location.line <= len(lines) else ""
        frames.append(Frame(location, enclosing_function(source, location.line), text_line))
    callee = callee_at(sources.get(location.file), location.line, location.col)
    message = in_call(rewrite(message_of(text)), callee)
    location, message = at_end_of_file(location, message, sources.get(location.file))
    message = unclosed_mid_file(location, message, sources.get(location.file))
    if cancelled == "wall" and "cancelled" in message.lower():
        message = f"wall-clock limit of {_seconds(limits.wall_seconds)} exceeded"
    elif cancelled == "cpu" and "cancelled" in message.lower():
        message = f"CPU-time limit of {_seconds(limits.cpu_seconds)} exceeded"
    elif cancelled == "memory" and "cancelled" in message.lower():
        message = f"memory limit of {limits.memory_mb} MiB exceeded"
    elif "call stack overflow" in message.lower():
        message = (
            f"call-stack limit of {limits.max_callstack} frames exceeded "
            "(unbounded recursion?)"
        )
    return Diagnostic(location, message, stack=tuple(frames))


def _call_into_prelude(text: str, sources: dict[str, str]) -> Location | None:
    """Where the pipeline called a builtin written in the prelude, with its column.

    An error raised inside the prelude points into it; the pipeline's frame just before
    the first prelude frame made the call, and the prelude frame names the builtin.
    """
    frames = parse_frames(text, sources, keep_engine=True)
    for outer, inner in itertools.pairwise(frames):
        if outer.location.file != PRELUDE_FILE and inner.location.file == PRELUDE_FILE:
            where = outer.location
            col = call_column(sources.get(where.file), where.line, inner.function)
            return Location(where.file, where.line, col or where.col)
    return None


def _address_space_limit(default: int) -> int:
    """The address-space limit in force (`default` where none is set)."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    return default if soft == resource.RLIM_INFINITY else soft


# The share of the memory left at which a growing program is stopped at its line.
_MEMORY_SHARE = 0.9


def _open_statm() -> int | None:
    import os

    try:
        return os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:  # not Linux, or no descriptor left: the kernel's limit still holds
        return None


def _address_space(fd: int) -> int:
    import os

    try:
        pages = int(os.pread(fd, 64, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _seconds(value: float) -> str:
    return f"{value:g} s"
