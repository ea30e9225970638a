"""A pipeline's files, found without running it: names used, loads followed.

Used by `check` (lint every file a pipeline loads, report refused loads at their line)
and by `check --capabilities` (what a pipeline can reach, for an operator's review).
It reads tokens, not values (the words, for a file that does not tokenize), so it
over-approximates: a name that appears is listed.
"""

from __future__ import annotations

import io
import os
import re
import tokenize

from engine.capabilities.base import CapabilityError
from engine.capabilities.source_tree import SourceTree
from engine.common.record import Record
from engine.core.builtin_table import BY_NAME, CTX_FUNCTIONS, PREDECLARED, REACHES
from engine.core.diagnostics import Diagnostic, Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.policy import Policy

class Scan(Record):
    """Builtin names a text uses and the `load()` statements it holds."""

    __slots__ = ("dynamic", "loads", "names")

    def __init__(self, names: set[str], loads: list[tuple[str, int, int]],
                 dynamic: bool = False) -> None:
        self.names = names
        self.loads = loads  # (module, line, col)
        self.dynamic = dynamic  # uses getattr: attribute names decided at run time


def scan(text: str) -> Scan:
    """Builtins used in `text` (directly or as `ctx.NAME`) and its loads with positions."""
    names: set[str] = set()
    loads: list[tuple[str, int, int]] = []
    dynamic = False
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return _scan_text(text)  # still an over-approximation, from the words
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.NAME:
            continue
        before = tokens[i - 1].string if i else ""
        if tok.string == "load" and before != "." and i + 2 < len(tokens) and (
            tokens[i + 1].string == "(" and tokens[i + 2].type == tokenize.STRING
        ):
            loads.append((_unquote(tokens[i + 2].string), tok.start[0], tok.start[1] + 1))
            continue
        through_ctx = before == "." and i >= 2 and tokens[i - 2].string == "ctx"
        if tok.string in PREDECLARED and (before != "." or through_ctx):
            names.add(tok.string)
        dynamic = dynamic or (tok.string == "getattr" and before != ".")
    return Scan(names, loads, dynamic)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOAD = re.compile(r"""\bload\s*\(\s*("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")


def _scan_text(text: str) -> Scan:
    """`scan` for a text that does not tokenize: every builtin named anywhere (comments
    and strings included) and every `load("...")`."""
    words = set(_WORD.findall(text))
    loads = []
    for match in _LOAD.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
        loads.append((_unquote(match.group(1)), line, col))
    return Scan(words & set(PREDECLARED), loads, "getattr" in words)


def _unquote(literal: str) -> str:
    import ast

    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return literal
    return value if isinstance(value, str) else literal


def collect(path: str, text: str, tree: SourceTree
            ) -> tuple[dict[str, str], set[str], list[Diagnostic]]:
    """Every file `path` loads, transitively: (texts by name, builtins used, refusals)."""
    texts = {path: text}
    names: set[str] = set()
    problems: list[Diagnostic] = []
    edges: dict[str, list[tuple[str, Location]]] = {}
    dynamic = False
    queue = [path]
    while queue:
        current = queue.pop(0)
        found = scan(texts[current])
        names |= found.names
        dynamic = dynamic or found.dynamic
        for module, line, col in found.loads:
            try:
                loaded = tree.read(module, current)
            except CapabilityError as err:
                problems.append(Diagnostic(Location(current, line, col), str(err)))
                continue
            edges.setdefault(current, []).append((loaded["name"], Location(current, line, col)))
            if loaded["name"] not in texts:
                texts[loaded["name"]] = loaded["text"]
                queue.append(loaded["name"])
    if dynamic and "ctx" in names:
        # `getattr(ctx, NAME)` can reach any function ctx carries: list them all.
        names |= set(CTX_FUNCTIONS)
    problems.extend(_cycles(path, edges))
    return texts, names, problems


def _cycles(start: str, edges: dict[str, list[tuple[str, Location]]]) -> list[Diagnostic]:
    """A diagnostic at each load that closes a cycle, naming the files on it."""
    found: list[Diagnostic] = []
    path: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> None:
        path.append(name)
        for target, where in edges.get(name, []):
            if target in path:
                cycle = [*path[path.index(target):], target]
                found.append(Diagnostic(where, "load cycle: " + " -> ".join(cycle)))
            elif target not in done:
                visit(target)
        path.pop()
        done.add(name)

    visit(start)
    return found


def tree_for(path: str, src: str | None, policy: Policy) -> SourceTree:
    """The source tree a checked file's loads resolve in (its directory by default)."""
    root = src or os.path.dirname(path) or "."
    return SourceTree(root, path, path, enabled=policy.load.enabled,
                      max_files=policy.load.max_files)


def render_capabilities(path: str, texts: dict[str, str], names: set[str],
                        problems: list[Diagnostic], policy: Policy) -> str:
    """The review report of one pipeline."""
    disabled = set(policy.builtins.disabled)
    out = [path, "  can call:"]
    for name in sorted(names):
        state = "  (disabled by the policy)" if name in disabled else ""
        out.append(f"    {name:16} {REACHES[BY_NAME[name].reaches]}{state}".rstrip())
    if not names:
        out.append("    nothing")
    loaded = [name for name in texts if name != path]
    out.append("  loads:" + ("" if loaded or problems else " nothing"))
    out.extend(f"    {name}" for name in loaded)
    out.extend(f"    refused: {p.location}: {p.message}" for p in problems)
    return "\n".join(out) + "\n"
