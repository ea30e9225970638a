"""`engine test --junit FILE`: the results as a JUnit XML report, for CI systems."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.pipeline_tests.verdict import Verdict


def render(verdicts: list[Verdict], timings: dict[str, float]) -> bytes:
    """One `<testsuite>`; a case is a `<testcase>` named by its file, classed by its
    directory, with a `<failure>` holding the problem and its detail."""
    from xml.etree import ElementTree as ET

    failures = sum(1 for v in verdicts if v.problem is not None)
    suite = ET.Element("testsuite", {
        "name": "pipeline tests", "tests": str(len(verdicts)), "failures": str(failures),
        "errors": "0", "time": f"{sum(timings.values()):.3f}"})
    for verdict in verdicts:
        case = ET.SubElement(suite, "testcase", {
            "classname": os.path.dirname(verdict.path) or ".",
            "name": os.path.basename(verdict.path),
            "file": verdict.path,
            "time": f"{timings.get(verdict.path, 0.0):.3f}"})
        if verdict.problem is not None:
            failure = ET.SubElement(case, "failure", {"message": verdict.problem})
            failure.text = verdict.detail
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    import io

    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    return buffer.getvalue() + b"\n"


def write_report(path: str, verdicts: list[Verdict], timings: dict[str, float]) -> None:
    """Write the report atomically."""
    from engine.triggers.file import write_atomic

    write_atomic(path, render(verdicts, timings))
