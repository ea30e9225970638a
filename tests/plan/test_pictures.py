"""`plan --format mermaid|dot`: the job graph as pictures, well-formed and faithful.

Every graph of the plan tests is drawn in both formats, read back with a strict reader
(tests/support/graph_syntax.py) and compared with the pipeline: stages, one node per job
labelled with its name and creating line, one arrow per dependency labelled with a
condition other than all_success. Graphviz, when installed, must accept the DOT too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.plan.pictures import dot_string, mermaid_text
from tests.cli.test_cli import GRAPHS, Spec, cli, expected_stages, pipeline_for, write
from tests.support.graph_syntax import (
    Graph,
    GraphSyntaxError,
    dot_label,
    mermaid_label,
    read_dot,
    read_mermaid,
)

FORMATS = {"mermaid": read_mermaid, "dot": read_dot}
DOT = shutil.which("dot")


def plan(tmp_path: Path, fmt: str, pipeline: str = "pipeline.star") -> str:
    """`plan --format FMT` in tmp_path; its stdout (exit 0 asserted)."""
    result = cli("plan", "--format", fmt, "--pipeline", pipeline, "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)
    assert result.code == 0, result.output
    assert not (tmp_path / "triggers.json").exists()
    return result.stdout


def by_name(graph: Graph) -> dict[str, tuple[str, str]]:
    """Node id -> (job name, second label line), for either format."""
    out = {}
    for node, label in graph.nodes.items():
        name, _, rest = label.replace("<br/>", "\n").partition("\n")
        out[node] = (name, rest)
    return out


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("spec", GRAPHS.values(), ids=GRAPHS.keys())
def test_picture_matches_the_plan(tmp_path: Path, spec: Spec, fmt: str) -> None:
    write(tmp_path / "pipeline.star", pipeline_for(spec))

    graph = FORMATS[fmt](plan(tmp_path, fmt))

    nodes = by_name(graph)
    assert sorted(name for name, _ in nodes.values()) == sorted(n for n, _, _ in spec)
    for line, (name, _, _) in enumerate(spec, start=1):
        assert (name, f"pipeline.star:{line}:1") in nodes.values()
    stages = [(label, {nodes[n][0] for n in members}) for label, members in graph.stages]
    assert stages == [(f"stage {k}", level)
                      for k, level in enumerate(expected_stages(spec), start=1)]
    edges = {(nodes[a][0], nodes[b][0], label) for a, b, label, _ in graph.edges}
    wanted = {(dep, name, "" if cond == "all_success" else cond)
              for name, deps, cond in spec for dep in deps}
    assert edges == wanted
    assert len(graph.edges) == len(wanted)


@pytest.mark.parametrize("fmt", FORMATS)
def test_pictures_are_deterministic(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "pipeline.star", pipeline_for(GRAPHS["uneven"]))
    assert plan(tmp_path, fmt) == plan(tmp_path, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dependency_on_an_existing_job_is_dashed(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "triggers.json", json.dumps({
        "type": "trigger_job", "operation_id": "x",
        "jobs": [{"job_name": "old", "depends_on": [], "condition": "all_success", "env": {}}],
    }))
    write(tmp_path / "pipeline.star", 'trigger_job("new", depends_on = ["old"])\n')
    before = (tmp_path / "triggers.json").read_bytes()

    result = cli("plan", "--format", fmt, "--pipeline", "pipeline.star", "--src", ".",
                 "--triggers-file", "triggers.json", cwd=tmp_path)

    assert result.code == 0, result.output
    assert (tmp_path / "triggers.json").read_bytes() == before
    graph = FORMATS[fmt](result.stdout)
    names = by_name(graph)
    old = next(node for node, (name, _) in names.items() if name == "old")
    assert names[old][1] == "already in the triggers file"
    assert old in graph.dashed_nodes
    assert [(names[a][0], names[b][0], dashed) for a, b, _, dashed in graph.edges] == [
        ("old", "new", True)]
    assert all(old not in members for _, members in graph.stages)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_jobs_is_an_empty_picture(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "pipeline.star", "x = 1\n")
    graph = FORMATS[fmt](plan(tmp_path, fmt))
    assert graph.nodes == {} and graph.edges == [] and graph.stages == []


# A file name that would break an unescaped label in either format.
AWKWARD_NAME = 'we"ird <b>#1;</b> \\N `x` [a] {b} |c| &amp; é.star'


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_survive_awkward_file_names(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / AWKWARD_NAME, 'trigger_job("a.b_c-1")\ntrigger_job("d", depends_on = '
          '["a.b_c-1"], condition = "any_failed")\n')

    graph = FORMATS[fmt](plan(tmp_path, fmt, AWKWARD_NAME))

    assert sorted(by_name(graph).values()) == [("a.b_c-1", f"{AWKWARD_NAME}:1:1"),
                                               ("d", f"{AWKWARD_NAME}:2:1")]


@pytest.mark.parametrize("pipeline", ["uneven", "diamond", "awkward"])
def test_the_dot_is_accepted(tmp_path: Path, pipeline: str) -> None:
    """Graphviz must accept the DOT when it is installed (it is not a prerequisite);
    the strict reader, which follows the DOT grammar for what the plan writes, always
    must, so that the test never skips."""
    name = AWKWARD_NAME if pipeline == "awkward" else "pipeline.star"
    spec = GRAPHS.get(pipeline, GRAPHS["diamond"])
    write(tmp_path / name, pipeline_for(spec))
    text = plan(tmp_path, "dot", name)

    graph = read_dot(text)
    assert sorted(by_name(graph)[n][0] for n in graph.nodes) == sorted(n for n, _, _ in spec)
    assert len(graph.edges) == sum(len(deps) for _, deps, _ in spec)
    if DOT is not None:
        rendered = subprocess.run([DOT, "-Tsvg"], input=text, capture_output=True, text=True,
                                  timeout=60, check=False)
        assert rendered.returncode == 0, rendered.stderr
        assert rendered.stdout.lstrip().startswith(("<?xml", "<svg"))


TEXTS = ["plain", 'a "quoted" word', "back\\slash \\N \\G", "line\nbreak", "#35; #quot;",
         "<script>&amp;</script>", "`tick` [x] {y} (z) |p|", "tab\tcontrol\x01", "é ü 字"]


@pytest.mark.parametrize("text", TEXTS)
def test_escaping_round_trips(text: str) -> None:
    assert mermaid_label(mermaid_text(text)) == text
    shown = dot_label(dot_string(text))
    assert shown == "".join(" " if ord(c) < 32 and c != "\n" else c for c in text)


@pytest.mark.parametrize(("reader", "text"), [
    (read_mermaid, 'flowchart LR\n    j1["a"]\n    j1 --> j2\n'),
    (read_mermaid, 'flowchart LR\n    subgraph s ["x"]\n'),
    (read_mermaid, 'flowchart LR\n    j1["a"b"]\n'),
    (read_dot, 'digraph g {\n    "a" [label="x"];\n    "a" -> "b";\n}\n'),
    (read_dot, 'digraph g {\n    "a" [label="x\\N"];\n}\n'),
    (read_dot, 'digraph g {\n    "a" [label="unclosed];\n}\n'),
    (read_dot, "digraph g {\n"),
], ids=["undeclared node", "open subgraph", "quote in label", "dot undeclared node",
        "dot label escape", "dot open string", "dot open graph"])
def test_the_readers_refuse_broken_text(reader: object, text: str) -> None:
    assert callable(reader)
    with pytest.raises(GraphSyntaxError):
        reader(text)
