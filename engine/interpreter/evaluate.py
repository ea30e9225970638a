"""Evaluate one pipeline with starlark-pyo3. Runs only inside the sandboxed child."""

from __future__ import annotations

import itertools

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
from engine.interpreter.watch import Watch
from pipeline_builtins import PREDECLARED, prelude_source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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


# The limit counts the pipeline's own calls: the module's frame and the deepest chain of
# prelude frames under a builtin (trigger_job -> its helper) come on top.
_ENGINE_FRAMES = 3


def evaluate(source: PipelineSource, host: Host, limits: Limits, deadline: float) -> list[Job]:
    """Run the pipeline; return its jobs in call order or raise PipelineFailed.

    Files it loads are evaluated once each, with the same builtins and limits, and
    frozen; `host.collector.sources` gains their texts.
    """
    sl = _starlark()
    sources = host.collector.sources
    sources.setdefault(source.name, source.text)
    watch = Watch(limits, deadline)
    try:
        ast = sl.parse(source.name, source.text, dialect())
    except sl.StarlarkError as err:
        failure = PipelineFailed([_translate(str(err), sources, limits, None)])
        failure.evaluated = False  # type: ignore[attr-defined]
        raise failure from None
    options = sl.EvalOptions(
        check_cancelled=watch.check,
        max_callstack_size=limits.max_callstack + _ENGINE_FRAMES,
    )
    modules = _Modules(host, options, source.name)
    try:
        sl.eval_with(options, modules.new_module(), ast, modules.globals,
                     sl.FileLoader(modules.load))
    except sl.StarlarkError as err:
        if host.collector.failure is not None:
            raise PipelineFailed([host.collector.failure]) from None
        raise PipelineFailed([_translate(str(err), sources, limits, watch.cancelled)]) from None
    return host.collector.jobs


class _Modules:
    """The modules of one evaluation. Each starts with the builtins, loaded from the
    prelude (evaluated once, frozen); each file a `load()` names is read through the
    host's confined sources, evaluated once with the same options, and frozen."""

    def __init__(self, host: Host, options: Any, main_file: str) -> None:
        sl = _starlark()
        self._host = host
        self._options = options
        prelude = sl.Module()
        for name, fn in host.callables().items():
            prelude.add_callable(name, fn)
        prelude["_context"] = host.context_values()
        sl.eval(prelude, sl.parse(PRELUDE_FILE, prelude_source(), dialect()),
                prelude_globals())
        self._prelude = prelude.freeze()
        self.globals = pipeline_globals()
        names = ", ".join(f'"{n}"' for n in PREDECLARED)
        self._boot = sl.parse("<engine boot>", f'load("{PRELUDE_MODULE}", {names})', dialect())
        self._loaded: dict[str, Any] = {}
        self._loading: list[str] = [main_file]

    def _boot_loader(self, module: str) -> Any:
        if module == PRELUDE_MODULE:
            return self._prelude
        raise LoadRefused(module)

    def new_module(self) -> Any:
        """An empty module holding the builtins."""
        sl = _starlark()
        module = sl.Module()
        sl.eval(module, self._boot, self.globals, sl.FileLoader(self._boot_loader))
        return module

    def load(self, module_id: str) -> Any:
        """The frozen module a `load()` in the file being evaluated names."""
        sl = _starlark()
        try:
            found = self._host.sources.read(module_id, self._loading[-1])
        except CapabilityError as err:
            raise LoadRefused(str(err)) from None
        name, text = found["name"], found["text"]
        if name in self._loaded:
            return self._loaded[name]
        if name in self._loading:
            cycle = [*self._loading[self._loading.index(name):], name]
            raise LoadRefused("load cycle: " + " -> ".join(cycle))
        self._host.collector.sources[name] = text
        module = self.new_module()
        self._loading.append(name)
        try:
            sl.eval_with(self._options, module, sl.parse(name, text, dialect()), self.globals,
                         sl.FileLoader(self.load))
        finally:
            self._loading.pop()
        self._loaded[name] = module.freeze()
        return self._loaded[name]


# A cancellation or an overflow said as the limit it is: (the limit the watch saw, or
# None for any; what the binding's message says, in its words, which
# tests/interpreter/test_binding_contract.py checks; the message shown instead).
_LIMIT_MESSAGES: tuple[tuple[str | None, str, Callable[[Limits], str]], ...] = (
    ("wall", "cancelled",
     lambda limits: f"wall-clock limit of {_seconds(limits.wall_seconds)} exceeded"),
    ("cpu", "cancelled",
     lambda limits: f"CPU-time limit of {_seconds(limits.cpu_seconds)} exceeded"),
    ("memory", "cancelled",
     lambda limits: f"memory limit of {limits.memory_mb} MiB exceeded"),
    (None, "call stack overflow",
     lambda limits: f"call-stack limit of {limits.max_callstack} frames exceeded "
                    "(unbounded recursion?)"),
)


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
    _end_stack_at(frames, location, sources)
    callee = callee_at(sources.get(location.file), location.line, location.col)
    message = in_call(rewrite(message_of(text)), callee)
    location, message = at_end_of_file(location, message, sources.get(location.file))
    message = unclosed_mid_file(location, message, sources.get(location.file))
    for cause, said, limit_message in _LIMIT_MESSAGES:
        if cause in (None, cancelled) and said in message.lower():
            message = limit_message(limits)
            break
    return Diagnostic(location, message, stack=tuple(frames))


def _end_stack_at(frames: list[Frame], location: Location, sources: dict[str, str]) -> None:
    """Make the failing line the stack's last frame: its column set, or the frame added."""
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


def _seconds(value: float) -> str:
    return f"{value:g} s"
