"""`check`: parse and lint pipelines without running them. Runs inside the sandbox."""

from __future__ import annotations

from engine.core.diagnostics import Diagnostic, Location
from engine.core.starlark_text import (
    PRELUDE_FILE,
    at_end_of_file,
    message_of,
    pointers,
)
from engine.interpreter.evaluate import (
    PRELUDE_MODULE,
    dialect,
    pipeline_globals,
    prelude_globals,
)
from pipeline_builtins import PREDECLARED, prelude_source

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# "Disabled" lints are the interpreter's off-by-default ones (unused assignments and
# loads): worth a warning in a pipeline, which exports nothing but what is loaded.
_SEVERITY = {"Error": "error", "Warning": "warning", "Advice": "note", "Disabled": "warning"}


def lint_sources(sources: list[dict[str, str]],
                 groups: list[list[str]] | None = None,
                 rules: dict[str, Any] | None = None) -> list[Diagnostic]:
    """Every problem found in the given files, in file order then position order.

    `groups` names the files linted together for the job lints (a pipeline and the files
    it loads); by default each file is its own group. `rules` are the operator's job
    rules (`JobRules.to_json()`), checked against what calls state literally.
    """
    from engine.core.validate import JobRules
    from engine.interpreter.lint_fields import field_lints
    from engine.interpreter.lint_jobs import job_lints

    texts = {source["name"]: source["text"] for source in sources}
    by_file: dict[str, list[Diagnostic]] = {name: [] for name in texts}
    seen: set[tuple[str, int, int, str]] = set()
    for group in groups or [[name] for name in texts]:
        files = [(name, texts[name]) for name in group if name in texts]
        job_rules = JobRules.from_json(rules) if rules is not None else None
        for found in job_lints(files) + field_lints(files, job_rules):
            key = (found.location.file, found.location.line, found.location.col,
                   found.message)
            if key not in seen:
                seen.add(key)
                by_file[found.location.file].append(found)
    out: list[Diagnostic] = []
    for name, text in texts.items():
        jobs = by_file[name]
        taken = {(d.location.line, d.location.col) for d in jobs}
        own = [d for d in _lint_one(name, text)
               if not (d.message.endswith("[unused-assign]")
                       and (d.location.line, d.location.col) in taken)]
        out.extend(sorted(own + jobs, key=lambda d: (d.location.line, d.location.col)))
    return out


def _lint_one(name: str, text: str) -> list[Diagnostic]:
    import starlark as sl

    try:
        ast = sl.parse(name, text, dialect())
    except sl.StarlarkError as err:
        where = pointers(str(err))
        location, message = at_end_of_file(where[0] if where else Location(name),
                                           message_of(str(err)), text)
        return [Diagnostic(location, message)]
    found: list[Diagnostic] = []
    found.extend(_name_errors(name, text))
    for lint in ast.lint():
        severity = _SEVERITY.get(str(lint.severity).rsplit(".", 1)[-1])
        if severity is None or (lint.short_name == "unused-assign"
                                and str(lint.original).startswith("_")):
            continue
        found.append(
            Diagnostic(_lint_location(name, str(lint.resolved_location)),
                       f"{lint.problem} [{lint.short_name}]", severity)
        )
    found.sort(key=lambda d: (d.location.line, d.location.col))
    return found


_MAX_NAME_ROUNDS = 100


def _name_errors(name: str, text: str) -> list[Diagnostic]:
    """Unresolved names, with the builtins known.

    The builtins reach a pipeline through a load of the prelude, so the same load is
    appended (after the last line, so no position moves) and resolved against the
    prelude's interface. The type checker stops at some unresolved names (it calls them
    an internal error); each such name is then defined at the end and the check rerun,
    so that every one is reported.
    """
    import starlark as sl

    names = ", ".join(f'"{n}"' for n in PREDECLARED)
    suffix = f'\nload("{PRELUDE_MODULE}", {names})\n'
    prelude = sl.parse(PRELUDE_FILE, prelude_source(), dialect())
    _, interface, _ = prelude.typecheck(prelude_globals(), {})
    found: list[Diagnostic] = []
    seen: set[tuple[int, int]] = set()
    for _ in range(_MAX_NAME_ROUNDS):
        ast = sl.parse(name, text + suffix, dialect())
        errors, _, _ = ast.typecheck(pipeline_globals(), {PRELUDE_MODULE: interface})
        retry = False
        for problem in errors:
            where = pointers(str(problem))
            location = where[0] if where else Location(name)
            if (location.line, location.col) in seen or location.line > text.count("\n") + 1:
                continue
            seen.add((location.line, location.col))
            message = message_of(str(problem))
            # The binding's words (tests/interpreter/test_binding_contract.py).
            if message.startswith("Internal error: unresolved ident"):
                ident = _identifier_at(text, location)
                if ident:
                    suffix += f"{ident} = None\n"
                    retry = True
                message = f"Variable `{ident}` not found" if ident else "undefined name"
            found.append(Diagnostic(location, message))
        if not retry:
            break
    return found


def _identifier_at(text: str, location: Location) -> str:
    lines = text.splitlines()
    if not 0 < location.line <= len(lines):
        return ""
    ident = ""
    for char in lines[location.line - 1][max(location.col - 1, 0):]:
        if not (char.isalnum() or char == "_"):
            break
        ident += char
    return ident


def _lint_location(name: str, resolved: str) -> Location:
    # "file:LINE:COL-COL" or "file:LINE:COL-LINE:COL"
    head = resolved[len(name) + 1:] if resolved.startswith(name + ":") else resolved
    parts = head.split("-", 1)[0].split(":")
    try:
        return Location(name, int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return Location(name)
