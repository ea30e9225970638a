"""Files for editors and hooks: the language-server stubs and the JSON Schemas are
current (generated from the same source as what they describe), the schemas accept the
bundled examples and refuse what the engine refuses, and the pre-commit hooks run."""

from __future__ import annotations

import functools
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from engine import schemas
from engine.core.builtin_table import CTX_FUNCTIONS, DISABLABLE
from pipeline_builtins import stubs
from tests.support.engine_run import REPO_ROOT, clean_env, run_cli

SCHEMAS = REPO_ROOT / "schemas"
STUBS = REPO_ROOT / "editors" / "starlark"


def test_stubs_are_current() -> None:
    for relative, text in stubs.render().items():
        assert (STUBS / relative).read_text(encoding="utf-8") == text, (
            f"{relative} is stale: run `just docs`")


def test_stubs_name_every_builtin() -> None:
    import ast

    tree = ast.parse((STUBS / "builtins.py").read_text())
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert defined == set(DISABLABLE)
    ctx = ast.parse((STUBS / "modules" / "ctx.py").read_text())
    members = {node.name for node in ctx.body if isinstance(node, ast.FunctionDef)}
    assert members == set(CTX_FUNCTIONS)


def test_schemas_are_current() -> None:
    for name, text in schemas.render().items():
        assert (SCHEMAS / name).read_text(encoding="utf-8") == text, (
            f"schemas/{name} is stale: run `just docs`")


@functools.cache
def validator(name: str) -> Draft202012Validator:
    """The validator of one schema, the schemas checked against the meta-schema first
    (once per test process)."""
    loaded = {n: json.loads((SCHEMAS / n).read_text()) for n in schemas.FILES}
    for schema in loaded.values():
        Draft202012Validator.check_schema(schema)
    registry: Registry[Any] = Registry().with_resources(
        [(s["$id"], Resource.from_contents(s)) for s in loaded.values()])
    return Draft202012Validator(loaded[name], registry=registry)


def problems(name: str, document: Any) -> list[str]:
    return [error.message for error in validator(name).iter_errors(document)]


CASES = sorted([*(REPO_ROOT / "examples" / "tests").rglob("*.toml"),
                *(REPO_ROOT / "tests" / "examples" / "cases").glob("*.toml")])
GOLDENS = sorted((REPO_ROOT / "examples" / "tests").rglob("*.triggers.json"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.name)
def test_bundled_cases_validate(path: Path) -> None:
    assert problems("test-case.schema.json", tomllib.loads(path.read_text())) == []


@pytest.mark.parametrize("path", GOLDENS, ids=lambda p: p.name)
def test_bundled_goldens_validate(path: Path) -> None:
    assert problems("triggers.schema.json", json.loads(path.read_text())) == []


def _policy_blocks() -> list[str]:
    text = (REPO_ROOT / "docs" / "policy.md").read_text()
    return [b for b in re.findall(r"```toml\n(.*?)```", text, re.S) if "[" in b]


def test_documented_policies_and_the_defaults_validate() -> None:
    blocks = _policy_blocks()
    assert blocks
    for block in blocks:
        assert problems("policy.schema.json", tomllib.loads(block)) == [], block
    shown = run_cli("policy", "show")
    assert problems("policy.schema.json", tomllib.loads(shown.stdout)) == []


REFUSED: dict[str, tuple[str, Any]] = {
    "policy: unknown key": ("policy.schema.json", {"limits": {"wall_second": 5}}),
    "policy: a string for a number": ("policy.schema.json", {"limits": {"max_jobs": "9"}}),
    "policy: ctx disabled": ("policy.schema.json", {"builtins": {"disabled": ["ctx"]}}),
    "case: typo in pipeline": ("test-case.schema.json", {"pipelin": "p.star"}),
    "case: bad status": ("test-case.schema.json", {
        "pipeline": "p.star", "git": {"changes": [{"path": "a", "status": "gone"}]}}),
    "case: [git] with [repository]": ("test-case.schema.json", {
        "pipeline": "p.star", "git": {}, "repository": {"commits": [{"a": "x"}]}}),
    "case: a number for a file": ("test-case.schema.json", {
        "pipeline": "p.star", "repository": {"commits": [{"a": 1}]}}),
    "triggers: bad job name": ("triggers.schema.json", {
        "type": "trigger_job", "operation_id": "x", "jobs": [
            {"job_name": "bad name", "depends_on": [], "condition": "all_success",
             "env": {}}]}),
    "triggers: reserved env": ("triggers.schema.json", {
        "type": "trigger_job", "operation_id": "x", "jobs": [
            {"job_name": "a", "depends_on": [], "condition": "all_success",
             "env": {"REACTORCIDE_X": "1"}}]}),
    "triggers: unknown field": ("triggers.schema.json", {
        "type": "trigger_job", "operation_id": "x", "jobs": [
            {"job_name": "a", "depends_on": [], "condition": "all_success", "env": {},
             "containr_image": "x"}]}),
}


@pytest.mark.parametrize("case", REFUSED.values(), ids=REFUSED.keys())
def test_schemas_refuse_what_the_engine_refuses(case: tuple[str, Any]) -> None:
    name, document = case
    assert problems(name, document)


def _hooks() -> list[dict[str, str]]:
    """The hooks file, read as the flat list of mappings it is."""
    hooks: list[dict[str, str]] = []
    for line in (REPO_ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("- "):
            hooks.append({})
            line = line[2:]
        key, _, value = line.strip().partition(": ")
        hooks[-1][key] = value
    return hooks


def test_pre_commit_hooks_run(tmp_path: Path) -> None:
    hooks = {hook["id"]: hook for hook in _hooks()}
    assert set(hooks) == {"reactorcide-pipeline-check", "reactorcide-pipeline-test"}
    (tmp_path / "pipeline.star").write_text('trigger_job("a")\n')
    (tmp_path / "a.toml").write_text(
        'pipeline = "pipeline.star"\nexpect.jobs = [{ job_name = "a" }]\n')
    script = Path(sys.executable).parent
    for hook in hooks.values():
        words = shlex.split(hook["entry"])
        files = [] if hook.get("pass_filenames") == "false" else ["pipeline.star"]
        assert re.search(hook["files"], "pipeline.star")
        proc = subprocess.run([str(script / words[0]), *words[1:], *files], cwd=tmp_path,
                              env=clean_env(), capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
