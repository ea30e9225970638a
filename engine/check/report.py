"""What `check` reads and how it reports: files found under directories, inline
suppressions, and the report as text, JSON or GitHub workflow annotations."""

from __future__ import annotations

import json
import os
import re

from engine.core.diagnostics import Diagnostic, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

FORMATS = ("text", "json", "github")
_RULE = re.compile(r"\[([a-z0-9-]+)\]$")
_DISABLE = re.compile(r"#\s*check:\s*disable=([A-Za-z0-9_,\- ]+)")


def discover(paths: list[str]) -> list[str]:
    """The files to check: each file named, and every `.star` file under each directory
    named (hidden directories skipped), in a stable order."""
    out: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            out.append(path)
            continue
        found: list[str] = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.normpath(os.path.join(root, f)) for f in files
                      if f.endswith(".star") and not f.startswith(".")]
        if not found:
            raise UsageError("no .star files under this directory", path)
        out += sorted(found)
    return list(dict.fromkeys(out))


def rule_of(diagnostic: Diagnostic) -> str | None:
    """The rule a diagnostic names at its end (`[unused-job]`), if any."""
    match = _RULE.search(diagnostic.message)
    return match.group(1) if match else None


def suppressed(diagnostic: Diagnostic, sources: dict[str, str]) -> bool:
    """Whether its line says `# check: disable=RULE[,RULE...]` (or `disable=all`)."""
    rule = rule_of(diagnostic)
    text = sources.get(diagnostic.location.file)
    if rule is None or text is None or diagnostic.location.line <= 0:
        return False
    lines = text.splitlines()
    if diagnostic.location.line > len(lines):
        return False
    match = _DISABLE.search(lines[diagnostic.location.line - 1])
    if match is None:
        return False
    rules = {r.strip() for r in match.group(1).split(",")}
    return rule in rules or "all" in rules


def closing_line(files: int, errors: int, warnings: int) -> str:
    """`checked 3 files: 1 error, 2 warnings`."""
    def count(n: int, noun: str) -> str:
        return f"{n} {noun}{'' if n == 1 else 's'}"

    return f"checked {count(files, 'file')}: {count(errors, 'error')}, " \
           f"{count(warnings, 'warning')}"


def report(diagnostics: list[Diagnostic], sources: dict[str, str], files: int, fmt: str,
           out: TextIO, err: TextIO, paint: object = None) -> tuple[int, int]:
    """Write the report; return (errors, warnings). Notes count as neither."""
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = sum(1 for d in diagnostics if d.severity == "warning")
    closing = closing_line(files, errors, warnings)
    if fmt == "json":
        doc = {"files": files, "errors": errors, "warnings": warnings,
               "diagnostics": [{**d.to_json(), "rule": rule_of(d)} for d in diagnostics]}
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return errors, warnings
    if fmt == "github":
        from engine.common.shown import escape_controls

        for d in diagnostics:
            out.write(escape_controls(_annotation(d)) + "\n")
        out.write(closing + "\n")
        return errors, warnings
    from engine.common.shown import escape_controls

    render = getattr(paint, "diagnostic", None)
    for d in diagnostics:
        text = escape_controls(d.render(sources))
        err.write((render(d, text) if callable(render) else text) + "\n")
    err.flush()
    out.write(closing + "\n")
    return errors, warnings


def _annotation(d: Diagnostic) -> str:
    """A GitHub workflow command: `::error file=F,line=L,col=C,title=RULE::MESSAGE`."""
    level = {"error": "error", "warning": "warning"}.get(d.severity, "notice")
    props = [f"file={_property(d.location.file)}"]
    if d.location.line > 0:
        props.append(f"line={d.location.line}")
    if d.location.col > 0:
        props.append(f"col={d.location.col}")
    rule = rule_of(d)
    if rule:
        props.append(f"title={_property(rule)}")
    return f"::{level} {','.join(props)}::{_data(d.message)}"


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
