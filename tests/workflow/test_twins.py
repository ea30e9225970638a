"""A `.star` example and its Python twin appending to the same existing triggers file.

Every example and its twin are compared on each end-to-end case in
tests/examples/test_examples.py. Here three of those cases run both sides over an
existing file, on one real repository: the Starlark side through the engine's `ingest`
command, the twin as `python TWIN.py` in a fresh interpreter from a directory outside
the project (so the installed `workflow` package is used). Both must keep the existing
job first and write byte-identical files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.pipeline_tests.repository import Repositories
from tests.support.engine_run import run_cli, run_python
from tests.support.example_cases import CASES_DIR, PYTHON_EXAMPLES, checkout, load
from tests.workflow.scripts import load as load_file

EXISTING = {
    "type": "trigger_job",
    "operation_id": "from-runnerlib",
    "jobs": [{"job_name": "ingest-setup", "depends_on": [], "condition": "always", "env": {}}],
}

APPEND_CASES = ["multi_stage_main", "tag_release_annotated_tag_detached",
                "complex_parallel_feature_python_only"]


@pytest.mark.parametrize("case_name", APPEND_CASES)
def test_twins_append_alike_to_an_existing_file(case_name: str, tmp_path: Path,
                                                repositories: Repositories) -> None:
    case = load(CASES_DIR / f"{case_name}.toml")
    repo = checkout(repositories, case)
    env = {"REACTORCIDE_JOB_ID": "ingest-7", **case.env}
    existing = (json.dumps(EXISTING, indent=2) + "\n").encode()
    star_file = tmp_path / "star" / "triggers.json"
    python_file = tmp_path / "python" / "triggers.json"
    for path in (star_file, python_file):
        path.parent.mkdir()
        path.write_bytes(existing)

    star_run = run_cli("ingest", "--no-submit", "--src", repo, "--pipeline", case.pipeline,
                       "--triggers-file", star_file, env=env)
    python_run = run_python(
        PYTHON_EXAMPLES / f"{Path(case.pipeline).stem}.py", cwd=tmp_path,
        env={**env, "REACTORCIDE_CODE_DIR": str(repo),
             "REACTORCIDE_TRIGGERS_FILE": str(python_file)})

    assert star_run.code == python_run.code == 0, star_run.output + python_run.output
    star_doc, python_doc = load_file(star_file), load_file(python_file)
    assert python_doc["jobs"][0] == EXISTING["jobs"][0]
    assert python_doc["jobs"] == star_doc["jobs"]
    assert len(python_doc["jobs"]) > 1
    assert python_doc["operation_id"] != EXISTING["operation_id"]
    assert star_file.read_bytes() == python_file.read_bytes()
