"""What `from workflow import ...` offers: the guide's names, signatures and defaults."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import workflow
from tests.support.engine_run import REPO_ROOT
from tests.workflow.scripts import run_script
from workflow import WorkflowContext

GUIDE_NAMES = ("trigger_job", "submit_job", "flush_triggers", "changed_files", "git_info",
               "is_job_running", "get_job_result", "log_next_job", "WorkflowContext",
               "workflow_context")
CONTEXT_PROPERTIES = ("job_id", "branch", "commit", "ref")

# name -> the signature without annotations (the guide's defaults; None stands for the
# guide's `{}`/`[]` and for "the source directory" / "the triggers file").
SIGNATURES = {
    "trigger_job": "(job_name, env=None, depends_on=None, condition='all_success', **fields)",
    "submit_job": "(job_name, env=None, depends_on=None, condition='all_success', **fields)",
    "flush_triggers": "()",
    # No from_ref: the last commit, or for a pull request what it changed (HEAD^ is the
    # guide's default and still what a push compares).
    "changed_files": "(from_ref=None, to_ref=None, base_dir=None)",
    "git_info": "(base_dir=None)",
    "is_job_running": "(job_name)",
    "get_job_result": "(job_name)",
    "log_next_job": "(job_name, reason='')",
    "WorkflowContext": "(triggers_file=None, *, src_dir=None, policy=None, "
                       "allow_insecure_transport=False, submit=None)",
    "workflow_context": "(triggers_file=None, *, src_dir=None, policy=None, "
                        "allow_insecure_transport=False, submit=None)",
}
METHODS = ("trigger_job", "submit_job", "flush_triggers", "changed_files", "git_info",
           "is_job_running", "get_job_result", "log_next_job")


def _shape(function: Callable[..., Any], drop_self: bool = False) -> str:
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=inspect.Parameter.empty)
                  for p in signature.parameters.values()]
    if drop_self:
        parameters = parameters[1:]
    return str(signature.replace(parameters=parameters,
                                 return_annotation=inspect.Signature.empty))


def test_guide_names_import_from_any_directory(tmp_path: Path) -> None:
    script = tmp_path / "imports.py"
    script.write_text(
        f"from workflow import {', '.join(GUIDE_NAMES)}\n"
        "import workflow\n"
        "print(workflow.__file__)\n",
        encoding="utf-8",
    )
    result = run_script(script, cwd=tmp_path)
    assert result.code == 0, result.output
    assert Path(result.stdout.strip()) == REPO_ROOT / "builtins" / "workflow" / "__init__.py"


def test_star_import_gives_the_guide_names() -> None:
    assert set(GUIDE_NAMES) <= set(workflow.__all__)
    assert all(hasattr(workflow, name) for name in workflow.__all__)


@pytest.mark.parametrize(("name", "expected"), SIGNATURES.items())
def test_signature(name: str, expected: str) -> None:
    assert _shape(getattr(workflow, name)) == expected


@pytest.mark.parametrize("name", METHODS)
def test_context_method_matches_the_module_function(name: str) -> None:
    method = getattr(WorkflowContext, name)
    assert _shape(method, drop_self=True) == SIGNATURES[name]


@pytest.mark.parametrize("name", CONTEXT_PROPERTIES)
def test_context_property(name: str) -> None:
    assert isinstance(getattr(WorkflowContext, name), property)


DEFAULT_PATHS: list[tuple[str, dict[str, str], dict[str, Any], str, str]] = [
    ("nothing set", {}, {}, "/job/triggers.json", "/job/src"),
    ("worker variables",
     {"REACTORCIDE_TRIGGERS_FILE": "/w/triggers.json", "REACTORCIDE_CODE_DIR": "/w/src"},
     {}, "/w/triggers.json", "/w/src"),
    ("empty variables are unset",
     {"REACTORCIDE_TRIGGERS_FILE": "", "REACTORCIDE_CODE_DIR": ""},
     {}, "/job/triggers.json", "/job/src"),
    ("arguments win, paths accepted",
     {"REACTORCIDE_TRIGGERS_FILE": "/w/triggers.json", "REACTORCIDE_CODE_DIR": "/w/src"},
     {"triggers_file": Path("/a/t.json"), "src_dir": Path("/a/src")},
     "/a/t.json", "/a/src"),
]


@pytest.mark.parametrize(("env", "kwargs", "triggers", "src"),
                         [row[1:] for row in DEFAULT_PATHS], ids=[r[0] for r in DEFAULT_PATHS])
def test_where_a_context_reads_and_writes(environment: pytest.MonkeyPatch, env: dict[str, str],
                                          kwargs: dict[str, Any], triggers: str,
                                          src: str) -> None:
    environment.delenv("REACTORCIDE_TRIGGERS_FILE")
    environment.delenv("REACTORCIDE_CODE_DIR")
    for key, value in env.items():
        environment.setenv(key, value)
    ctx = WorkflowContext(**kwargs)
    assert (ctx.triggers_file, ctx.src_dir) == (Path(triggers), src)
    # A Path, as upstream's WorkflowContext has it.
    assert isinstance(ctx.triggers_file, Path)


def test_the_package_says_it_runs_trusted_code() -> None:
    doc = workflow.__doc__ or ""
    assert "trusted code" in doc
    assert "pipeline.star" in doc
