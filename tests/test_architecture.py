"""The layout stays true: folders import only downward, and no module imports itself back.

The layers are data (top first). A module may import its own folder and any folder in a
layer below its own; never one above, never a sibling in the same layer. Imports inside
functions and under `TYPE_CHECKING` count too: a reader follows them all the same.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Each layer: the folders (packages, or top-level modules) in it. Top first.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("engine.__main__",),
    ("engine.cli", "engine.schemas"),
    ("workflow", "engine.pipeline_tests"),
    ("engine.plan", "engine.check", "engine.transcripts"),
    ("engine.run",),
    ("engine.triggers", "engine.sandbox"),
    ("engine.interpreter",),
    ("pipeline_builtins",),
    ("engine.policy",),
    ("engine.capabilities",),
    ("engine.core",),
    ("engine.common",),
)

SOURCE_ROOTS = {"engine": ROOT / "engine", "pipeline_builtins": ROOT / "builtins/pipeline_builtins",
                "workflow": ROOT / "builtins/workflow"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top, folder in SOURCE_ROOTS.items():
        for path in folder.rglob("*.py"):
            parts = [top, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """Every first-party module `path` imports, at any depth of its code."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                names.add(full if full in MODULES else node.module)
    return {name for name in names if name.split(".")[0] in SOURCE_ROOTS}


def _folder(module: str) -> tuple[int, str]:
    """(layer index, folder) of a module: the longest folder of the table it lies in."""
    best: tuple[int, str] | None = None
    for index, layer in enumerate(LAYERS):
        for folder in layer:
            inside = module == folder or module.startswith(folder + ".")
            if inside and (best is None or len(folder) > len(best[1])):
                best = (index, folder)
    assert best is not None, f"{module} lies in no folder of LAYERS: add it to the table"
    return best


GRAPH = {module: _imports(path) for module, path in MODULES.items()}


def test_every_module_lies_in_a_layer() -> None:
    for module in MODULES:
        if module != "engine":
            _folder(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "engine"))
def test_imports_run_downward(module: str) -> None:
    layer, folder = _folder(module)
    wrong = []
    for target in sorted(GRAPH[module]):
        if target == "engine":
            continue  # the package's face: its version
        target_layer, target_folder = _folder(target)
        if target_folder != folder and target_layer <= layer:
            wrong.append(f"{target} ({target_folder})")
    assert not wrong, f"{module} ({folder}) imports upward or sideways: {', '.join(wrong)}"


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


# The modules that read the process environment (`os.environ`) and why; everything else
# gets what it needs from the inputs snapshot (engine.run.inputs, which is handed the
# environment) or from its caller.
READS_ENVIRONMENT = {
    "engine.cli.main": "the token taken out first, the colour choice",
    "engine.cli.ingest_command": "the environment the run's event flags are written over",
    "engine.cli.shared": "the policy files the environment names",
    "engine.plan.diff": "the same, for plan --diff and its event scenarios",
    "engine.pipeline_tests.runner": "the operator's policy files for `engine test`",
    "engine.run.arguments": "the terminal width for --help",
    "engine.run.checkout": "git settings GitPython would pass on to git, removed",
    "engine.capabilities.git.live": "the same for the live checkout",
    "engine.capabilities.git.runner": "PATH, the one variable git inherits",
    "engine.common.secret": "the token, taken and erased",
    "engine.sandbox.child": "the sandbox's environment, cleared",
    "workflow.context": "the Python API's own inputs, read as the engine's snapshot reads them",
}


def _reads_environment(path: Path) -> bool:
    return any(isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
               and isinstance(node.value, ast.Name) and node.value.id == "os"
               for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))


def test_only_the_listed_modules_read_the_environment() -> None:
    reading = {module for module, path in MODULES.items() if _reads_environment(path)}
    assert reading == set(READS_ENVIRONMENT)


def test_every_package_is_installed() -> None:
    # A plain (non-editable) install ships only the packages pyproject.toml lists.
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    packages = {module for module, path in MODULES.items() if path.name == "__init__.py"}
    assert packages == listed


def _layout_tree() -> list[str]:
    """The folder paths of the README's Layout tree, nesting resolved."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    paths: list[str] = []
    parents: list[tuple[int, str]] = []
    for line in block.splitlines():
        stripped = line.strip()
        if not stripped or line.startswith(" " * 8):
            continue  # blank, or the continuation of a description
        indent = len(line) - len(line.lstrip())
        name = stripped.split()[0].rstrip(",")
        while parents and parents[-1][0] >= indent:
            parents.pop()
        full = (parents[-1][1] if parents else "") + name
        paths.append(full)
        if name.endswith("/"):
            parents.append((indent, full))
    return paths


def test_the_readme_layout_matches_the_folders() -> None:
    shown = _layout_tree()
    for path in shown:
        assert (ROOT / path).exists(), f"the README's Layout names {path}, which is not there"
    folders = {f"{p.parent.relative_to(ROOT).as_posix()}/"
               for p in (ROOT / "engine").rglob("__init__.py") if p.parent != ROOT / "engine"}
    missing = folders - set(shown)
    assert not missing, "folders missing from the README's Layout: " + ", ".join(sorted(missing))
