"""Small, strict readers of the Mermaid and DOT the plan renders, for structural checks.

Each accepts only well-formed text (balanced blocks, closed strings, known statements,
declared nodes) and returns the graph it describes, with labels decoded back to text.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field


class GraphSyntaxError(ValueError):
    """The text is not well-formed."""


@dataclass
class Graph:
    """Nodes (id -> label), edges (from, to, label or "", dashed) and stage boxes."""

    nodes: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str, bool]] = field(default_factory=list)
    stages: list[tuple[str, list[str]]] = field(default_factory=list)
    dashed_nodes: set[str] = field(default_factory=set)


# --- Mermaid -------------------------------------------------------------------------

_SUBGRAPH = re.compile(r'subgraph (\w+) \["([^"]*)"\]')
_NODE = re.compile(r'(\w+)\["([^"]*)"\]')
_STYLE = re.compile(r"style (\w+) stroke-dasharray: 5 5")
_EDGE = re.compile(r"(\w+) (-->|-\.->)(?:\|([a-z_]+)\|)? (\w+)")
_ENTITY = re.compile(r"#(\d+);")


def mermaid_label(text: str) -> str:
    """A quoted label's text, entity codes decoded."""
    if "#" in _ENTITY.sub("", text):
        raise GraphSyntaxError(f"stray '#' in label {text!r}")
    return _ENTITY.sub(lambda m: chr(int(m.group(1))), text)


def read_mermaid(text: str) -> Graph:
    """Read a `flowchart` as the plan writes it."""
    lines = text.splitlines()
    if not lines or lines[0] != "flowchart LR":
        raise GraphSyntaxError("the first line must be 'flowchart LR'")
    graph = Graph()
    open_stage: tuple[str, list[str]] | None = None
    for line in lines[1:]:
        body = line.strip()
        if match := _SUBGRAPH.fullmatch(body):
            if open_stage is not None:
                raise GraphSyntaxError("nested subgraph")
            open_stage = (mermaid_label(match[2]), [])
        elif body == "end":
            if open_stage is None:
                raise GraphSyntaxError("'end' without a subgraph")
            graph.stages.append(open_stage)
            open_stage = None
        elif match := _NODE.fullmatch(body):
            if match[1] in graph.nodes:
                raise GraphSyntaxError(f"node {match[1]} declared twice")
            graph.nodes[match[1]] = mermaid_label(match[2])
            if open_stage is not None:
                open_stage[1].append(match[1])
        elif match := _STYLE.fullmatch(body):
            graph.dashed_nodes.add(match[1])
        elif match := _EDGE.fullmatch(body):
            for end in (match[1], match[4]):
                if end not in graph.nodes:
                    raise GraphSyntaxError(f"edge to undeclared node {end}")
            graph.edges.append((match[1], match[4], match[3] or "", match[2] == "-.->"))
        else:
            raise GraphSyntaxError(f"unexpected line {line!r}")
    if open_stage is not None:
        raise GraphSyntaxError("subgraph without 'end'")
    return graph


# --- DOT -----------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(->)|([{}\[\];,=])|("(?:[^"\\]|\\.)*")|([A-Za-z_][A-Za-z0-9_]*))',
                    re.S)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise GraphSyntaxError(f"cannot read DOT at {text[position:position + 20]!r}")
        out.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    return out


def dot_label(token: str) -> str:
    """A quoted DOT string as the label Graphviz shows (only `\\\\`, `\\"`, `\\n`)."""
    if not (token.startswith('"') and token.endswith('"')):
        return token
    out, index, body = [], 0, token[1:-1]
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in '\\"n':
                raise GraphSyntaxError(f"label escape \\{escaped} would be interpreted")
            out.append("\n" if escaped == "n" else escaped)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


class _DotReader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0
        self.graph = Graph()

    def peek(self) -> str:
        return self.tokens[self.index] if self.index < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token != expected):
            raise GraphSyntaxError(f"expected {expected or 'a token'}, got {token!r}")
        self.index += 1
        return token

    def attributes(self) -> dict[str, str]:
        found: dict[str, str] = {}
        self.take("[")
        while self.peek() != "]":
            key = self.take()
            self.take("=")
            found[key] = dot_label(self.take())
            if self.peek() in (",", ";"):
                self.take()
        self.take("]")
        return found

    def statements(self, stage: list[str] | None) -> str:
        label = ""
        while self.peek() != "}":
            token = self.take()
            if token in ("node", "edge", "graph"):
                self.attributes()
            elif token == "subgraph":
                name = self.take()
                if not name.startswith("cluster_"):
                    raise GraphSyntaxError("a stage subgraph must be a cluster")
                self.take("{")
                members: list[str] = []
                stage_label = self.statements(members)
                self.take("}")
                self.graph.stages.append((stage_label, members))
            elif self.peek() == "=":
                self.take("=")
                value = dot_label(self.take())
                if token == "label":
                    label = value
            else:
                names = [dot_label(token)]
                while self.peek() == "->":
                    self.take("->")
                    names.append(dot_label(self.take()))
                attrs = self.attributes() if self.peek() == "[" else {}
                if len(names) == 1:
                    self.graph.nodes[names[0]] = attrs.get("label", names[0])
                    if attrs.get("style") == "dashed":
                        self.graph.dashed_nodes.add(names[0])
                    if stage is not None:
                        stage.append(names[0])
                else:
                    for end in names:
                        if end not in self.graph.nodes:
                            raise GraphSyntaxError(f"edge to undeclared node {end!r}")
                    for a, b in itertools.pairwise(names):
                        self.graph.edges.append((a, b, attrs.get("label", ""),
                                                 attrs.get("style") == "dashed"))
            if self.peek() == ";":
                self.take(";")
        return label


def read_dot(text: str) -> Graph:
    """Read a `digraph` as the plan writes it."""
    reader = _DotReader(text)
    reader.take("digraph")
    if reader.peek() != "{":
        reader.take()
    reader.take("{")
    reader.statements(None)
    reader.take("}")
    if reader.peek():
        raise GraphSyntaxError(f"text after the graph: {reader.peek()!r}")
    return reader.graph
