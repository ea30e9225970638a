"""The builtin table (engine.core.builtin_table) and what it describes agree: every row
has its implementation where the row says, a reference entry, the capability methods it
asks on every backend, its `ctx` field in the prelude; nothing is implemented or carried
that has no row."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

from engine.capabilities.base import GitSource, JobState, SourceReader
from engine.capabilities.coordinator.deferred import DeferredJobState, UnconfiguredJobState
from engine.capabilities.coordinator.http import HttpJobState
from engine.capabilities.coordinator.memory import StaticJobState
from engine.capabilities.git.given import GivenChanges
from engine.capabilities.git.live import LiveGit
from engine.capabilities.git.memory import StaticGit
from engine.capabilities.source_tree import SourceTree
from engine.core import builtin_table as table
from engine.core.builtin_table import BUILTINS, PREDECLARED
from engine.core.diagnostics import UsageError
from engine.policy import load_policy
from engine.sandbox.broker import HostServices
from engine.sandbox.proxies import REMOTE_METHODS, RemoteGit, RemoteJobState, RemoteSources
from engine.schemas import render as render_schemas
from pipeline_builtins import Host, NoSources, prelude_source, stubs
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.jobs import JobCollector
from pipeline_builtins.reference import entries
from tests.support.engine_run import REPO_ROOT
from workflow.repository import Repositories

PYTHON_ROWS = [row for row in BUILTINS if row.source != table.PRELUDE]
PRELUDE_ROWS = [row for row in BUILTINS if row.source == table.PRELUDE]
IDS = [row.name for row in BUILTINS]

# Every class that answers a capability's questions: the interface, the backends and the
# sandbox's proxies. A builtin's call must be a method of each.
BACKENDS: dict[str, tuple[type, ...]] = {
    table.GIT: (GitSource, LiveGit, GivenChanges, StaticGit, RemoteGit, Repositories),
    table.JOB_STATE: (JobState, HttpJobState, StaticJobState, RemoteJobState,
                      UnconfiguredJobState, DeferredJobState),
    table.SOURCE: (SourceReader, SourceTree, RemoteSources, NoSources),
}


def _host(disabled: tuple[str, ...] = ()) -> Host:
    absent: Any = None  # the builtins are only built, never called over it
    return Host(absent, absent, absent, JobCollector({}, 10), disabled=disabled)


def _prelude_definitions() -> dict[str, ast.stmt]:
    """The prelude's public top-level names, with the statement defining each."""
    found: dict[str, ast.stmt] = {}
    for node in ast.parse(prelude_source()).body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            found[node.targets[0].id] = node
    return {name: node for name, node in found.items() if not name.startswith("_")}


def _ctx_struct() -> list[tuple[str, str]]:
    """`ctx = struct(...)` in the prelude: (field, the builtin it is or "" for data)."""
    node = _prelude_definitions()["ctx"]
    assert isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
    return [(k.arg or "", k.value.id if isinstance(k.value, ast.Name) else "")
            for k in node.value.keywords]


def test_the_names_are_unique_and_every_fact_is_known() -> None:
    assert len(set(PREDECLARED)) == len(PREDECLARED)
    for row in BUILTINS:
        assert row.reaches in table.REACHES, row.name
        assert row.preload is None or row.preload in table.PRELOADS, row.name
        for capability, _ in row.calls:
            assert capability in BACKENDS, row.name
        assert (row.source == table.PRELUDE) or row.over is None, row.name
        assert not row.value or (row.ctx_field is None and not row.calls), row.name


@pytest.mark.parametrize("row", BUILTINS, ids=IDS)
def test_what_a_builtin_asks_decides_what_it_reaches_and_preloads(row: Any) -> None:
    asked = {capability for capability, _ in row.calls}
    assert len(asked) <= 1, "a builtin asking two capabilities needs a row format for it"
    expected = {table.GIT: ("git", table.GIT_VERSION),
                table.JOB_STATE: ("coordinator", table.HTTP_CLIENT)}
    if asked:
        assert (row.reaches, row.preload) == expected[asked.pop()]
    else:
        assert row.reaches not in ("git", "coordinator") and row.preload is None


@pytest.mark.parametrize("row", PYTHON_ROWS, ids=[row.name for row in PYTHON_ROWS])
def test_a_python_builtin_is_bound_under_its_name_from_its_module(row: Any) -> None:
    function = _host().callables()[row.name]
    assert row.name not in _prelude_definitions()
    defined_in = Path(inspect.getsourcefile(function) or "")
    assert defined_in == REPO_ROOT / "builtins" / "pipeline_builtins" / row.source


@pytest.mark.parametrize("row", PRELUDE_ROWS, ids=[row.name for row in PRELUDE_ROWS])
def test_a_prelude_builtin_is_defined_there_over_its_private_callable(row: Any) -> None:
    definitions = _prelude_definitions()
    assert row.name in definitions  # shadowing a Python one of that name (workflow's API)
    if row.over is not None:
        assert row.over in _host().callables()
        node = definitions[row.name]
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            node = definitions[node.value.id]  # an alias: `submit_job = trigger_job`
        called = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        assert row.over in called


def test_nothing_is_implemented_without_a_row() -> None:
    callables = _host().callables()
    public = {name for name in callables if not name.startswith("_")}
    assert public | set(_prelude_definitions()) == set(PREDECLARED)
    private = {name for name in callables if name.startswith("_")}
    assert private == {row.over for row in BUILTINS if row.over is not None}


@pytest.mark.parametrize("name", table.DISABLABLE)
def test_disabling_a_builtin_refuses_what_implements_it(name: str) -> None:
    refuse = _host(disabled=(name,)).callables()[table.callable_name(name)]
    with pytest.raises(BuiltinError, match=f"{name} is disabled by the platform's policy"):
        refuse()


def test_every_row_has_a_reference_entry_in_order() -> None:
    text = (REPO_ROOT / "docs" / "builtins.md").read_text(encoding="utf-8")
    assert re.findall(r"^## (\S+)$", text, re.M) == list(PREDECLARED)
    assert all(entry.doc.strip() for entry in entries())


def test_ctx_carries_the_rows_fields_and_the_context_values() -> None:
    fields = _ctx_struct()
    assert [field for field, builtin in fields if builtin] == list(table.CTX_FUNCTIONS)
    assert [field for field, builtin in fields if not builtin] == list(table.CONTEXT_KEYS)
    assert list(_host().context_values()) == list(table.CONTEXT_KEYS)


def test_the_editor_stubs_follow_the_table() -> None:
    ctx = ast.parse(stubs.render()["modules/ctx.py"])
    functions = [n.name for n in ctx.body if isinstance(n, ast.FunctionDef)]
    values = [n.targets[0].id for n in ctx.body
              if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)]
    assert functions == list(table.CTX_FUNCTIONS)
    assert values == [name for name, kind in table.CONTEXT_FIELDS if kind == "string"]
    top = ast.parse(stubs.render()["builtins.py"])
    assert {n.name for n in top.body if isinstance(n, ast.FunctionDef)} == set(table.DISABLABLE)


@pytest.mark.parametrize("capability", sorted(BACKENDS))
def test_every_backend_answers_every_call_the_sandbox_may_make(capability: str) -> None:
    assert table.remote_methods() == REMOTE_METHODS
    for method in sorted(REMOTE_METHODS[capability]):
        for backend in BACKENDS[capability]:
            assert callable(getattr(backend, method, None)), f"{backend.__name__}.{method}"


def test_the_parent_refuses_each_call_once_its_builtins_are_disabled() -> None:
    absent: Any = None
    for row in BUILTINS:
        for call in row.calls:
            makers = tuple(r.name for r in BUILTINS if call in r.calls)
            assert call in HostServices(absent, absent, absent, disabled=makers).refused
            others = tuple(name for name in makers if name != row.name)
            assert call not in HostServices(absent, absent, absent, disabled=others).refused


def test_the_policy_and_its_schema_accept_exactly_the_functions(tmp_path: Path) -> None:
    every = tmp_path / "every.toml"
    every.write_text(f"[builtins]\ndisabled = {json.dumps(list(table.DISABLABLE))}\n")
    assert load_policy([str(every)]).builtins.disabled == table.DISABLABLE
    for row in BUILTINS:
        if row.value:
            value = tmp_path / f"{row.name}.toml"
            value.write_text(f'[builtins]\ndisabled = ["{row.name}"]\n')
            with pytest.raises(UsageError, match=f"{row.name} cannot be disabled"):
                load_policy([str(value)])
    schema = json.loads(render_schemas()["policy.schema.json"])
    disabled = schema["properties"]["builtins"]["properties"]["disabled"]
    assert disabled["items"]["enum"] == list(table.DISABLABLE)


def test_the_readme_builtins_table_has_a_row_per_builtin() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Builtins", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)", section, re.M)
    assert [name for name in rows if name in PREDECLARED] == list(PREDECLARED)
