"""The binding's text, as the engine reads it.

starlark-pyo3 reports errors, call stacks and lint locations only as text, and the
engine reads places and wording out of that text with patterns (`engine.core.
starlark_text`, `engine.interpreter.friendly`, `engine.interpreter.evaluate`,
`engine.interpreter.lint`). Each test here evaluates a small program with the engine's
own dialect and globals and checks that the pattern named in its id still finds what
the engine needs. When the binding is upgraded and its wording moves, the failure names
the pattern to adjust instead of a message that quietly lost its place or its words.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

import pytest
import starlark as sl

from engine.common.lazy_pattern import LazyPattern
from engine.core import starlark_text
from engine.core.diagnostics import Location
from engine.core.validate import JobError
from engine.interpreter import evaluate, friendly, lint
from pipeline_builtins.errors import BuiltinError

FILE = "contract.star"
BINDING = f"starlark-pyo3 {version('starlark-pyo3')}"


def _error_text(program: str, callables: dict[str, Callable[..., Any]] | None = None,
                options: Any = None, globals_: Any = None) -> str:
    """The binding's text for the error `program` raises (parse or evaluation)."""
    module = sl.Module()
    for name, function in (callables or {}).items():
        module.add_callable(name, function)
    try:
        ast = sl.parse(FILE, program, evaluate.dialect())
        found = globals_ if globals_ is not None else evaluate.pipeline_globals()
        if options is None:
            sl.eval(module, ast, found)
        else:
            sl.eval_with(options, module, ast, found, None)
    except sl.StarlarkError as err:
        return str(err)
    raise AssertionError(f"{program!r} raised no error")


def _broken(pattern: str, what: str, text: str) -> str:
    return (f"{BINDING}: {pattern} no longer reads {what} out of the binding's text; "
            f"adjust the pattern (and the pinned version range in pyproject.toml). The "
            f"text was:\n{text}")


def _matches(regex: re.Pattern[str] | LazyPattern, name: str, text: str) -> re.Match[str]:
    found = regex.search(text)
    assert found is not None, _broken(name, "the message", text)
    return found


# -- places: tracebacks, call stacks, pointers ------------------------------------------


def test_frame_re_reads_the_traceback() -> None:
    text = _error_text('def f():\n    fail("boom")\n\nf()\n')
    frames = starlark_text.parse_frames(text, {})
    shown = [(f.location.file, f.location.line, f.function, f.source) for f in frames]
    assert shown == [(FILE, 4, "<module>", "f()"), (FILE, 2, "f", 'fail("boom")')], \
        _broken("starlark_text._FRAME_RE", "the traceback's frames", text)


def test_frame_re_reads_call_stack() -> None:
    module = sl.Module()
    ast = sl.parse(FILE, "def f():\n    return call_stack()\n\nx = f()\n", evaluate.dialect())
    sl.eval(module, ast, evaluate.prelude_globals())
    text = str(module["x"])
    frames = starlark_text.parse_frames(text, {})
    shown = [(f.location.line, f.function, f.source) for f in frames]
    assert shown == [(4, "<module>", "x = f()"), (2, "f", "return call_stack()")], \
        _broken("starlark_text._FRAME_RE", "call_stack()'s frames (trigger_job's place)",
                text)


def test_pointer_re_reads_where_an_error_is() -> None:
    text = _error_text('def f():\n    fail("boom")\n\nf()\n')
    assert starlark_text.pointers(text) == [Location(FILE, 2, 5)], \
        _broken("starlark_text._POINTER_RE", "the ` --> file:line:col` pointer", text)


def test_pointer_re_reads_a_parse_error() -> None:
    text = _error_text("x = 1\ny = = 2\n")
    assert starlark_text.pointers(text) == [Location(FILE, 2, 5)], \
        _broken("starlark_text._POINTER_RE", "a parse error's pointer", text)


# -- the message: `error:` lines and the engine's own exceptions --------------------------


def test_message_of_reads_the_error_line() -> None:
    text = _error_text('fail("boom")\n')
    assert starlark_text.message_of(text) == "fail: boom", \
        _broken("starlark_text.message_of (the `error: ` line)", "the message", text)


@pytest.mark.parametrize("exception", [BuiltinError, JobError, evaluate.LoadRefused],
                         ids=lambda e: e.__name__)
def test_own_error_prefixes_name_the_engines_exceptions(exception: type[Exception]) -> None:
    def refuse() -> None:
        raise exception("job limit of 1 jobs exceeded")

    text = _error_text("refuse()\n", {"refuse": refuse})
    assert starlark_text.message_of(text) == "job limit of 1 jobs exceeded", \
        _broken("starlark_text._OWN_ERROR_PREFIXES", "the engine's own error", text)


# -- parse errors: the unclosed bracket ----------------------------------------------------


def test_at_end_of_file_finds_an_error_at_the_end() -> None:
    source = "x = [1,\n     2,\n"
    text = _error_text(source)
    [place] = starlark_text.pointers(text) or [Location(FILE)]
    location, message = starlark_text.at_end_of_file(
        place, starlark_text.message_of(text), source)
    assert (location.line, location.col) == (2, 8) and "never closed" in message, \
        _broken("starlark_text.at_end_of_file (`Parse error: unexpected` at 1:1, `end of "
                "file` or `new line`)", "a parse error at the end of the file", text)


def test_unexpected_names_the_bracket_opened_earlier() -> None:
    source = "x = (1,\ny = 2\n"
    text = _error_text(source)
    message = starlark_text.message_of(text)
    _matches(starlark_text._UNEXPECTED, "starlark_text._UNEXPECTED", message)
    [place] = starlark_text.pointers(text)
    assert "never closed" in starlark_text.unclosed_mid_file(place, message, source), \
        _broken("starlark_text._UNEXPECTED", "a parse error inside a bracket", text)


# -- call mistakes, said in the pipeline's terms -------------------------------------------


def _inner() -> Callable[..., Any]:
    def wrapped(name: str) -> str:
        return name

    return wrapped


def changes(name: str, ref: str = "HEAD") -> str:
    """A builtin written in Python, as the prelude's callables are."""
    return name + ref


# id: (the pattern, the program, Python callables, what `rewrite` must say)
CALL_MISTAKES: dict[str, tuple[LazyPattern, str, dict[str, Any], str]] = {
    "friendly._EXTRA_NAMED": (
        friendly._EXTRA_NAMED, "def f(a):\n    pass\n\nf(a = 1, b = 2)\n", {},
        "f() has no parameter 'b'"),
    "friendly._EXTRA_POSITIONAL": (
        friendly._EXTRA_POSITIONAL, "def f(a):\n    pass\n\nf(1, 2)\n", {},
        "f() was given 1 positional argument too many"),
    "friendly._MISSING": (
        friendly._MISSING, "def f(a):\n    pass\n\nf()\n", {},
        "f() is missing its parameter 'a'"),
    "friendly._TYPE_MISMATCH": (
        friendly._TYPE_MISMATCH, '"a".startswith(1)\n', {},
        "parameter 'prefix' must be str | tuple[str, ...], not an int (1)"),
    "friendly._UNPACKING": (
        friendly._UNPACKING, "range(10000000000)\n", {},
        "argument 1 must be an int from -2147483648 to 2147483647"),
    "friendly._TOO_BIG": (
        friendly._TOO_BIG, "[1][10000000000]\n", {},
        "the integer 10000000000 is too big here (at most 2147483647)"),
    "friendly._PY_UNEXPECTED": (
        friendly._PY_UNEXPECTED, "changes(nme = 'x')\n", {"changes": changes},
        "changes() has no parameter 'nme'"),
    "friendly._PY_MISSING": (
        friendly._PY_MISSING, "changes()\n", {"changes": changes},
        "changes() is missing its parameter 'name'"),
    "friendly._PY_OTHER": (
        friendly._PY_OTHER, "helper(1, 2)\n", {"helper": _inner()},
        "wrapped() takes 1 positional argument but 2 were given"),
}


@pytest.mark.parametrize("name", CALL_MISTAKES)
def test_call_mistake_wording(name: str) -> None:
    regex, program, callables, said = CALL_MISTAKES[name]
    text = _error_text(program, callables)
    message = starlark_text.message_of(text)
    _matches(regex, name, message)
    assert friendly.rewrite(message) == said, _broken(name, "the call mistake", text)


# -- limits: cancelled and overflowing evaluations -----------------------------------------


def test_a_cancelled_evaluation_says_cancelled() -> None:
    options = sl.EvalOptions(check_cancelled=lambda: True)
    text = _error_text("x = 0\nfor i in range(100000):\n    x += i\n", options=options)
    said = next(said for cause, said, _ in evaluate._LIMIT_MESSAGES if cause == "wall")
    assert said in starlark_text.message_of(text).lower(), \
        _broken("evaluate._LIMIT_MESSAGES ('cancelled')", "a stopped evaluation", text)


def test_an_overflowing_call_stack_says_so() -> None:
    options = sl.EvalOptions(max_callstack_size=3)
    program = ("def a():\n    return 1\n\ndef b():\n    return a()\n\n"
               "def c():\n    return b()\n\ndef d():\n    return c()\n\nd()\n")
    text = _error_text(program, options=options)
    said = next(said for cause, said, _ in evaluate._LIMIT_MESSAGES if cause is None)
    assert said in starlark_text.message_of(text).lower(), \
        _broken("evaluate._LIMIT_MESSAGES ('call stack overflow')", "the call-stack limit",
                text)


# -- check: lint locations and the type checker's unresolved names --------------------------


def test_lint_locations_and_severities() -> None:
    source = 'x = 1\n\ndef f():\n    y = 2\n    return x\n\nload("m.star", "a")\n'
    ast = sl.parse(FILE, source, evaluate.dialect())
    found = {lint_.short_name: lint_ for lint_ in ast.lint()}
    misplaced = found.get("misplaced-load")
    text = "\n".join(f"{k}: {v.resolved_location} {v.severity}" for k, v in found.items())
    assert misplaced is not None, _broken("lint (short names)", "the misplaced load", text)
    assert lint._lint_location(FILE, str(misplaced.resolved_location)) == \
        Location(FILE, 7, 1), _broken("lint._lint_location", "a lint's place", text)
    severity = str(misplaced.severity).rsplit(".", 1)[-1]
    assert severity in lint._SEVERITY, _broken("lint._SEVERITY", "a lint's severity", text)


def test_unresolved_names_are_reported_as_the_lint_expects() -> None:
    ast = sl.parse(FILE, "x = nope + 1\n", evaluate.dialect())
    errors, _, _ = ast.typecheck(evaluate.pipeline_globals(), {})
    text = "\n".join(str(problem) for problem in errors)
    assert [starlark_text.message_of(str(p)) for p in errors] == [
        "Internal error: unresolved ident"], \
        _broken("lint._name_errors ('Internal error: unresolved ident')",
                "an unresolved name", text)
    assert starlark_text.pointers(text) == [Location(FILE, 1, 5)], \
        _broken("starlark_text._POINTER_RE", "the type checker's pointer", text)
