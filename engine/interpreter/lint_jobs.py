"""`check`'s lints about jobs, read from the syntax tree without running anything.

Starlark's syntax is a subset of Python's, so Python's own parser reads it (a file it
cannot read gets only the interpreter's lints). Each pipeline is linted together with
the files it loads, so a job created in a helper file counts everywhere. Reported, as
warnings:

- a literal name in a `depends_on` list that no `trigger_job` call of the pipeline
  creates under that literal name (it may still be a job of the existing triggers file,
  or one created under a computed name, which a reading of the text cannot see);
- a job whose name is bound to a variable that is never read: `build = trigger_job(...)`
  with `build` used nowhere, so the job probably lacks a dependent it was meant to have
  (names starting with `_` are exempt; so is a name another file of the pipeline loads);
- `condition = "any_success"`, which the guide documents but the coordinator does not
  implement: such a job is skipped.
"""

from __future__ import annotations

import ast
import warnings

from engine.core.builtin_table import BUILTINS
from engine.core.diagnostics import Diagnostic, Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

# `trigger_job` and its aliases: the builtins the prelude implements over `_emit`.
TRIGGERS = frozenset(row.name for row in BUILTINS if row.over == "_emit")
_POSITION = {"job_name": 0, "env": 1, "depends_on": 2, "condition": 3}  # trigger_job's parameters


def _parse(text: str) -> ast.Module | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Starlark escapes Python would warn about
        try:
            return ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


def _is_trigger(node: ast.AST) -> TypeGuard[ast.Call]:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in TRIGGERS
    return (isinstance(func, ast.Attribute) and func.attr in TRIGGERS
            and isinstance(func.value, ast.Name) and func.value.id == "ctx")


def _argument(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    index = _POSITION[name]
    if index < len(call.args) and not any(isinstance(a, ast.Starred)
                                          for a in call.args[:index + 1]):
        return call.args[index]
    return None


def _literal(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else None


class _File:
    """What one file's tree says about jobs."""

    def __init__(self, name: str, text: str, tree: ast.Module) -> None:
        self.name = name
        self.lines = text.splitlines()
        self.calls = [node for node in ast.walk(tree) if _is_trigger(node)]
        self.created = {n for n in (_literal(_argument(c, "job_name")) for c in self.calls)
                        if n is not None}
        self.reads = {node.id for node in ast.walk(tree)
                      if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        self.loaded = set(_loaded_symbols(tree))
        self.bindings: list[tuple[ast.Name, ast.Call]] = [
            (node.targets[0], node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and _is_trigger(node.value)
        ]

    def at(self, node: ast.AST) -> Location:
        """The node's 1-based line and character column (Python counts bytes)."""
        line = getattr(node, "lineno", 0)
        offset = getattr(node, "col_offset", 0)
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = len(text.encode("utf-8")[:offset].decode("utf-8", "replace")) + 1
        return Location(self.name, line, col)


def _loaded_symbols(tree: ast.Module) -> list[str]:
    """The symbols this file loads from others: `load("f", "a", b = "c")` gives a, c."""
    out: list[str] = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "load"):
            out.extend(v for v in (_literal(a) for a in node.args[1:]) if v is not None)
            out.extend(v for v in (_literal(k.value) for k in node.keywords) if v is not None)
    return out


def job_lints(group: list[tuple[str, str]]) -> list[Diagnostic]:
    """The warnings for one pipeline: `(name, text)` of it and of every file it loads."""
    files = [_File(name, text, tree) for name, text in group
             if (tree := _parse(text)) is not None]
    created = {name for f in files for name in f.created}
    loaded = {name for f in files for name in f.loaded}
    found: list[Diagnostic] = []
    for f in files:
        for call in f.calls:
            found.extend(_unknown_dependencies(f, call, created))
            condition = _argument(call, "condition")
            if _literal(condition) == "any_success":
                assert condition is not None
                found.append(Diagnostic(
                    f.at(condition),
                    'condition "any_success" is documented by the guide but the coordinator '
                    "does not implement it: the job would be skipped [any-success]",
                    "warning",
                ))
        for target, call in f.bindings:
            variable = target.id
            if variable.startswith("_") or variable in f.reads or variable in loaded:
                continue
            job = _literal(_argument(call, "job_name"))
            shown = f'job "{job}"' if job else "the job"
            found.append(Diagnostic(
                f.at(target),
                f"the name of {shown} is bound to `{variable}`, which is never used: pass it "
                "to a depends_on, or drop the assignment [unused-job]",
                "warning",
            ))
    return found


def _unknown_dependencies(f: _File, call: ast.Call, created: set[str]) -> list[Diagnostic]:
    depends_on = _argument(call, "depends_on")
    if not isinstance(depends_on, (ast.List, ast.Tuple)):
        return []
    out = []
    for element in depends_on.elts:
        name = _literal(element)
        if name is not None and name not in created:
            out.append(Diagnostic(
                f.at(element),
                f'depends_on names "{name}", which no trigger_job of this pipeline creates '
                "(only a job already in the triggers file, or one created under a computed "
                "name, could satisfy it) [unknown-dependency]",
                "warning",
            ))
    return out
