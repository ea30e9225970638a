"""The job graph as a picture: Mermaid (rendered by GitHub and most markdown viewers) and
Graphviz DOT.

Both show the stages (topological levels) as boxes, each job with the pipeline line that
created it, and each dependency as an arrow labelled with the job's condition unless it
is the default `all_success`. A dependency on a job already in the triggers file is a
dashed arrow from a dashed node. Output depends only on the jobs, in their order.
"""

from __future__ import annotations

from engine.plan.stages import stages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.jobs import Job

DEFAULT_CONDITION = "all_success"
EXISTING_NOTE = "already in the triggers file"
# Characters a Mermaid label may hold as they are; any other is written as an entity code.
_MERMAID_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                           " ._-/:@+=,")


def _existing(jobs: list[Job]) -> list[str]:
    """Dependencies outside this run, in order of first mention."""
    names = {job.name for job in jobs}
    return list(dict.fromkeys(d for job in jobs for d in job.depends_on if d not in names))


def mermaid_text(text: str) -> str:
    """`text` safe inside a quoted Mermaid label: every character that could end the
    label, start markup or an entity becomes an entity code (`#34;` for `"`)."""
    return "".join(c if c in _MERMAID_PLAIN else f"#{ord(c)};" for c in text)


def render_mermaid(jobs: list[Job]) -> str:
    """A Mermaid flowchart of the plan."""
    ids = {job.name: f"j{n}" for n, job in enumerate(jobs, start=1)}
    outside = _existing(jobs)
    ids.update({name: f"x{n}" for n, name in enumerate(outside, start=1)})
    lines = ["flowchart LR"]
    for number, level in enumerate(stages(jobs), start=1):
        lines.append(f'    subgraph stage{number} ["stage {number}"]')
        for job in level:
            label = f"{mermaid_text(job.name)}<br/>{mermaid_text(str(job.location))}"
            lines.append(f'        {ids[job.name]}["{label}"]')
        lines.append("    end")
    for name in outside:
        label = f"{mermaid_text(name)}<br/>{mermaid_text(EXISTING_NOTE)}"
        lines.append(f'    {ids[name]}["{label}"]')
        lines.append(f"    style {ids[name]} stroke-dasharray: 5 5")
    for job in jobs:
        condition = str(job.fields.get("condition", DEFAULT_CONDITION))
        shown = "" if condition == DEFAULT_CONDITION else f"|{condition}|"
        for dep in job.depends_on:
            arrow = "-.->" if dep in outside else "-->"
            lines.append(f"    {ids[dep]} {arrow}{shown} {ids[job.name]}")
    return "\n".join(lines) + "\n"


def dot_string(text: str) -> str:
    """`text` as a quoted DOT string whose label shows it literally (backslashes doubled,
    so that Graphviz's `\\N`-style label escapes never apply; line breaks as `\\n`)."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    out = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in out)
    return f'"{out}"'


def render_dot(jobs: list[Job]) -> str:
    """A Graphviz digraph of the plan."""
    outside = _existing(jobs)
    lines = [
        "digraph pipeline {",
        "    rankdir=LR;",
        '    node [shape=box, fontname="Helvetica"];',
        '    edge [fontname="Helvetica"];',
    ]
    for number, level in enumerate(stages(jobs), start=1):
        lines.append(f"    subgraph cluster_stage{number} {{")
        lines.append(f'        label="stage {number}";')
        for job in level:
            label = dot_string(f"{job.name}\n{job.location}")
            lines.append(f"        {dot_string(job.name)} [label={label}];")
        lines.append("    }")
    for name in outside:
        label = dot_string(f"{name}\n{EXISTING_NOTE}")
        lines.append(f"    {dot_string(name)} [label={label}, style=dashed];")
    for job in jobs:
        condition = str(job.fields.get("condition", DEFAULT_CONDITION))
        for dep in job.depends_on:
            attributes = []
            if condition != DEFAULT_CONDITION:
                attributes.append(f"label={dot_string(condition)}")
            if dep in outside:
                attributes.append("style=dashed")
            suffix = f" [{', '.join(attributes)}]" if attributes else ""
            lines.append(f"    {dot_string(dep)} -> {dot_string(job.name)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
