"""`check`'s errors about jobs that a run would refuse, found in the syntax tree.

What a `trigger_job` call states literally is checked with the same rules as a run
(engine.core.validate): an unknown field (with did you mean, at the keyword), a job name, an
env key or value, a condition, a `depends_on` list; across the pipeline's files, a job
name triggered twice by calls that always run, and a dependency cycle between literal
names. Values computed at run time are left to the run.
"""

from __future__ import annotations

import ast

from engine.core.diagnostics import Diagnostic, Location
from engine.core.job_graph import find_cycles
from engine.core.jobs import AUTHORITY_FIELDS, CONDITIONS, FORBIDDEN_KEYS, OPTIONAL_FIELDS, Job
from engine.core.validate import (
    DEFAULT_RULES,
    RESERVED_ENV_PREFIXES,
    JobError,
    JobRules,
    _check_condition,
    _check_depends_on,
    _check_env_name,
    _check_field,
    check_job_name,
)
from engine.interpreter.lint_jobs import _argument, _File, _literal, _parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# `workflow` names a declared workflow (engine.core.workflows), not a job field.
_NAMED = ("job_name", "env", "depends_on", "condition", "workflow")
_NOT_LITERAL = object()
# Nodes under which a call may run zero times or several times.
_CONDITIONAL = (ast.If, ast.For, ast.While, ast.FunctionDef, ast.Lambda, ast.IfExp,
                ast.BoolOp, ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp)


def _value(node: ast.expr | None) -> Any:
    """The Python value of a literal expression, or `_NOT_LITERAL`."""
    if node is None:
        return _NOT_LITERAL
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def field_lints(group: list[tuple[str, str]],
                rules: JobRules | None = None) -> list[Diagnostic]:
    """The errors for one pipeline: `(name, text)` of it and of every file it loads;
    `rules`, the operator's, are checked against what the calls state literally."""
    rules = rules or DEFAULT_RULES
    found: list[Diagnostic] = []
    always: list[tuple[str, Location]] = []  # literal names of calls that always run
    graph: list[tuple[str, list[str], Location, bool]] = []
    for name, text in group:
        tree = _parse(text)
        if tree is None:
            continue
        f = _File(name, text, tree)
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        bound = _bound_names(f)
        for call in f.calls:
            job = _literal(_argument(call, "job_name"))
            found.extend(_call_errors(f, call, job, rules.reserved_env_prefixes))
            found.extend(_policy_errors(f, call, job, rules))
            unconditional = _always_runs(call, parents)
            if job is not None:
                if unconditional:
                    always.append((job, f.at(call)))
                deps = _dependencies(call, bound)
                if deps is not None:
                    graph.append((job, deps, f.at(call), unconditional))
    found.extend(_duplicates(always))
    found.extend(_cycles(graph))
    return found


def _always_runs(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    current = parents.get(node)
    while current is not None:
        if isinstance(current, _CONDITIONAL):
            return False
        current = parents.get(current)
    return True


def _bound_names(f: _File) -> dict[str, str | None]:
    """Variables bound to a trigger_job result with a literal name (None: bound twice)."""
    out: dict[str, str | None] = {}
    for target, call in f.bindings:
        job = _literal(_argument(call, "job_name"))
        out[target.id] = job if target.id not in out else None
    return out


def _dependencies(call: ast.Call, bound: dict[str, str | None]) -> list[str] | None:
    node = _argument(call, "depends_on")
    if node is None:
        return []
    if not isinstance(node, (ast.List, ast.Tuple)):
        return None
    names = []
    for element in node.elts:
        name = _literal(element)
        if name is None and isinstance(element, ast.Name):
            name = bound.get(element.id)
        if name is None:
            return None
        names.append(name)
    return names


def _error(f: _File, node: ast.AST, job: str | None, message: str, rule: str) -> Diagnostic:
    prefix = f'job "{job}": ' if job else ""
    return Diagnostic(f.at(node), f"{prefix}{message} [{rule}]")


def _policy_errors(f: _File, call: ast.Call, job: str | None,
                   rules: JobRules) -> list[Diagnostic]:
    """The operator's rules broken by the literal values of one call (priority, timeout,
    image, source URLs, condition); values computed at run time are left to the run."""
    fields: dict[str, Any] = {}
    for keyword in call.keywords:
        if keyword.arg in ("priority", "timeout", "container_image", "source_url",
                           "ci_source_url"):
            value = _value(keyword.value)
            kind = str if keyword.arg not in ("priority", "timeout") else int
            if isinstance(value, kind) and not isinstance(value, bool):
                fields[keyword.arg] = value
    condition_node = _argument(call, "condition")
    condition = "all_success" if condition_node is None else _value(condition_node)
    if isinstance(condition, str) and condition in CONDITIONS:  # else [condition] says it
        fields["condition"] = condition
    elif rules.allowed_conditions:
        fields["condition"] = rules.allowed_conditions[0]
    try:
        rules.check(fields)
    except JobError as err:
        return [_error(f, call, job, str(err), "policy")]
    return []


def _call_errors(f: _File, call: ast.Call, job: str | None,
                 reserved: tuple[str, ...] = RESERVED_ENV_PREFIXES) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    name_node = _argument(call, "job_name")
    name = _value(name_node)
    if name_node is not None and name is not _NOT_LITERAL:
        try:
            check_job_name(name)
        except JobError as err:
            out.append(_error(f, name_node, None, str(err), "job-name"))
    for keyword in call.keywords:
        if keyword.arg is None or keyword.arg in _NAMED:
            continue
        value = _value(keyword.value)
        known = keyword.arg in OPTIONAL_FIELDS
        if known and value is _NOT_LITERAL:
            continue
        if not known and keyword.arg not in AUTHORITY_FIELDS + FORBIDDEN_KEYS:
            value = None  # the name alone is wrong
        try:
            _check_field(keyword.arg, value, reserved)
        except JobError as err:
            rule = "job-field" if known else "unknown-field"
            out.append(_error(f, keyword, job, str(err), rule))
    out.extend(_env_errors(f, call, job, reserved))
    condition = _argument(call, "condition")
    value = _value(condition)
    if condition is not None and value is not _NOT_LITERAL:
        try:
            _check_condition(value)
        except JobError as err:
            out.append(_error(f, condition, job, str(err), "condition"))
    depends_on = _argument(call, "depends_on")
    value = _value(depends_on)
    if depends_on is not None and value is not _NOT_LITERAL:
        try:
            _check_depends_on(list(value) if isinstance(value, tuple) else value)
        except JobError as err:
            out.append(_error(f, depends_on, job, str(err), "depends-on"))
    return out


def _env_errors(f: _File, call: ast.Call, job: str | None,
                reserved: tuple[str, ...]) -> list[Diagnostic]:
    env = _argument(call, "env")
    if env is None:
        return []
    value = _value(env)
    if not isinstance(env, ast.Dict):
        if value is not _NOT_LITERAL and value is not None:
            return [_error(f, env, job, "env must be a dict of strings, got "
                           f"{type(value).__name__}", "env")]
        return []
    out: list[Diagnostic] = []
    for key_node, value_node in zip(env.keys, env.values, strict=True):
        key = _value(key_node)
        if key_node is not None and key is not _NOT_LITERAL:
            try:
                _check_env_name(key, "env key", reserved)
            except JobError as err:
                out.append(_error(f, key_node, job, str(err), "env"))
                continue
        item = _value(value_node)
        if item is not _NOT_LITERAL and not isinstance(item, str):
            shown = f"env[{key!r}]" if isinstance(key, str) else "an env value"
            kind = {bool: "bool", int: "int", float: "float", type(None): "None"}.get(
                type(item), type(item).__name__)
            out.append(_error(f, value_node, job, f"{shown} must be a string, got {kind}",
                              "env"))
    return out


def _duplicates(always: list[tuple[str, Location]]) -> list[Diagnostic]:
    first: dict[str, Location] = {}
    out = []
    for job, where in always:
        if job in first:
            out.append(Diagnostic(where, f'job "{job}" is triggered twice (first at '
                                         f"{first[job]}) [duplicate-job]"))
        first.setdefault(job, where)
    return out


def _cycles(graph: list[tuple[str, list[str], Location, bool]]) -> list[Diagnostic]:
    where = {job: (location, always) for job, _, location, always in reversed(graph)}
    jobs = [Job(job, {"depends_on": deps}, location) for job, deps, location, _ in graph]
    out = []
    for cycle in find_cycles(jobs):
        location, _ = where[cycle[0]]
        certain = all(where[name][1] for name in cycle)
        path = " -> ".join([*cycle, cycle[0]])
        out.append(Diagnostic(location, f"dependency cycle: {path} [dependency-cycle]",
                              "error" if certain else "warning"))
    return out
