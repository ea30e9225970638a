"""Every `.star` example and its Python twin, against the same real repositories.

Each scenario of tests/examples/cases is run twice on one repository: the `.star` file
through `python -m engine ingest`, the twin in examples/python/ as `python TWIN.py`
(from a directory outside the project, so the installed `workflow` package is used).
Both must succeed or fail together, and write byte-identical triggers files (the
operation_id names the decision, not the program that made it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.examples.test_examples import (
    CASE_NAMES,
    DEFAULT_JOB_ID,
    build_repo,
    load_case,
    start_coordinator,
    substitute,
)
from tests.support.engine_run import Result, run_engine
from tests.support.gitrepo import GitRepo
from tests.workflow.scripts import (
    PYTHON_EXAMPLES,
    STARLARK_EXAMPLES,
    load,
    run_script,
)


def test_every_starlark_example_has_a_python_twin() -> None:
    starlark = {path.stem for path in STARLARK_EXAMPLES.glob("*.star")}
    python = {path.stem for path in PYTHON_EXAMPLES.glob("*.py")}
    assert len(starlark) >= 10
    assert starlark == python


def _run_both(repo: GitRepo, star: Path, env: dict[str, str], out: Path
              ) -> tuple[Result, Path, Result, Path]:
    star_file, python_file = out / "star" / "triggers.json", out / "python" / "triggers.json"
    star_file.parent.mkdir(parents=True, exist_ok=True)
    python_file.parent.mkdir(parents=True, exist_ok=True)
    star_run = run_engine("ingest", "--no-submit", "--src", repo.path, "--pipeline", star,
                          "--triggers-file", star_file, env=env)
    python_run = run_script(
        PYTHON_EXAMPLES / f"{star.stem}.py",
        cwd=out,
        env={**env, "REACTORCIDE_CODE_DIR": str(repo.path),
             "REACTORCIDE_TRIGGERS_FILE": str(python_file)},
    )
    return star_run, star_file, python_run, python_file


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_twins_write_the_same_triggers(case_name: str, tmp_path: Path,
                                       request: pytest.FixtureRequest) -> None:
    case = load_case(case_name)
    star = STARLARK_EXAMPLES / case.spec["pipeline"]
    repo = build_repo(tmp_path / "src", case.spec["repo"])
    env = {k: substitute(v, repo) for k, v in case.spec.get("env", {}).items()}
    server = None
    if case.spec.get("coordinator_jobs") is not None:
        env.update(start_coordinator(request, case.spec["coordinator_jobs"]))
        env.setdefault("REACTORCIDE_JOB_ID", DEFAULT_JOB_ID)
        server = request.getfixturevalue("coordinator")
    expected: dict[str, Any] = json.loads(substitute(case.expected_text, repo))

    star_run, star_file, python_run, python_file = _run_both(repo, star, env, tmp_path)
    if server is not None and server.triggers_received:
        # With a coordinator at hand the twin submits, as upstream's flush does: on 201
        # the file is gone, and what it sent is what it wrote.
        assert not python_file.exists()
        assert [s.job_id for s in server.triggers_received] == [DEFAULT_JOB_ID]
        python_file.write_bytes(server.triggers_received[0].body)

    detail = f"{case_name}\n--- star\n{star_run.output}\n--- python\n{python_run.output}"
    assert star_run.code == expected.get("exit_code", 0), detail
    assert python_run.code == (0 if star_run.code == 0 else 1), detail
    assert star_file.exists() == python_file.exists() == bool(expected["jobs"]), detail
    if expected["jobs"]:
        assert load(python_file)["jobs"] == expected["jobs"], detail
        assert star_file.read_bytes() == python_file.read_bytes(), detail


EXISTING = {
    "type": "trigger_job",
    "operation_id": "from-runnerlib",
    "jobs": [{"job_name": "ingest-setup", "depends_on": [], "condition": "always", "env": {}}],
}

APPEND_CASES = ["multi_stage_main", "tag_release_annotated_tag_detached",
                "complex_parallel_feature_python_only"]


@pytest.mark.parametrize("case_name", APPEND_CASES)
def test_twins_append_alike_to_an_existing_file(case_name: str, tmp_path: Path) -> None:
    case = load_case(case_name)
    star = STARLARK_EXAMPLES / case.spec["pipeline"]
    repo = build_repo(tmp_path / "src", case.spec["repo"])
    env = {"REACTORCIDE_JOB_ID": "ingest-7", **case.spec.get("env", {})}
    existing = (json.dumps(EXISTING, indent=2) + "\n").encode()
    for side in ("star", "python"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "triggers.json").write_bytes(existing)

    star_run, star_file, python_run, python_file = _run_both(repo, star, env, tmp_path)

    assert star_run.code == python_run.code == 0, star_run.output + python_run.output
    star_doc, python_doc = load(star_file), load(python_file)
    assert python_doc["jobs"][0] == EXISTING["jobs"][0]
    assert python_doc["jobs"] == star_doc["jobs"]
    assert len(python_doc["jobs"]) > 1
    assert python_doc["operation_id"] != EXISTING["operation_id"]
    assert star_file.read_bytes() == python_file.read_bytes()
