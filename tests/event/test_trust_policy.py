"""Policy for eval jobs: [trust], [checkout] and the [fork_pr] layer."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.core.diagnostics import UsageError
from engine.policy import load_policy
from tests.support.engine_run import run_cli


def _policy(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults(tmp_path: Path) -> None:
    policy = load_policy([])
    assert policy.trust.pipeline_source == "ci"
    assert policy.trust.allow_fork_pipelines is False
    assert policy.checkout.timeout_seconds == 300.0
    assert policy.for_fork() is policy


def test_stricter_wins(tmp_path: Path) -> None:
    loose = _policy(tmp_path, "a.toml", '[trust]\npipeline_source = "code"\n'
                    "allow_fork_pipelines = true\n[checkout]\ntimeout_seconds = 600\n")
    strict = _policy(tmp_path, "b.toml", '[trust]\npipeline_source = "ci"\n'
                     "allow_fork_pipelines = false\n[checkout]\ntimeout_seconds = 60\n")
    policy = load_policy([loose, strict])
    assert policy.trust.pipeline_source == "ci"
    assert policy.trust.allow_fork_pipelines is False
    assert policy.checkout.timeout_seconds == 60.0


def test_fork_layer_tightens_only(tmp_path: Path) -> None:
    path = _policy(tmp_path, "p.toml", "[limits]\nwall_seconds = 8\n[fork_pr.limits]\n"
                   "wall_seconds = 20\nmax_jobs = 5\n[fork_pr.builtins]\n"
                   'disabled = ["changed_files"]\n')
    policy = load_policy([path])
    fork = policy.for_fork()
    assert policy.limits.wall_seconds == 8 and policy.limits.max_jobs == 1000
    assert fork.limits.wall_seconds == 8  # a fork layer cannot loosen
    assert fork.limits.max_jobs == 5
    assert "changed_files" in fork.builtins.disabled


@pytest.mark.parametrize(("text", "needle"), [
    ('[trust]\npipeline_source = "head"\n', "trust.pipeline_source must be one of: ci, code"),
    ("[fork_pr.git]\non_missing_history = \"error\"\n", "fork_pr.git is not one of"),
    ("[fork_pr.limits]\nwall_second = 1\n", "unknown key fork_pr.limits.wall_second"),
    ("[checkout]\ntimeout_seconds = 0\n", "checkout.timeout_seconds must be"),
])
def test_mistakes_are_named(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(UsageError) as caught:
        load_policy([_policy(tmp_path, "p.toml", text)])
    assert needle in caught.value.diagnostics[0].message


def test_the_fork_layer_applies_to_fork_pull_requests(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "p.toml", '[fork_pr.builtins]\ndisabled = ["changed_files"]\n')
    (tmp_path / "pipeline.star").write_text('print(changed_files())\ntrigger_job("t")\n')
    common = ("plan", "--src", str(tmp_path), "--policy", policy, "--pr", "3", "--changed",
              "a.py")
    assert run_cli(*common).code == 0
    fork = run_cli(*common, "--fork")
    assert fork.code == 1
    assert "changed_files is disabled by the platform's policy" in fork.stderr


# The note about a pull request's pipeline files shows paths the pull request chose.
CHANGE_NOTES = {
    "trusted source": ((9, ["lib/x.star", "pipeline.star"], True),
                       "note: pull request #9 changes pipeline files: lib/x.star, "
                       "pipeline.star; the trusted CI source's version decided"),
    "code trusted": ((3, ["pipeline.star"], False),
                     "changes pipeline files: pipeline.star; the code's version decided"),
    "a path with terminal codes": ((1, ["lib/\x1b[2Jx\r\nERROR.star"], True),
                                   "files: lib/\\x1b[2Jx\\r\\nERROR.star;"),
    "many paths": ((2, [f"lib/{i}.star" for i in range(13)], True),
                   "lib/8.star, lib/9.star and 3 more;"),
}


@pytest.mark.parametrize(("given", "words"), CHANGE_NOTES.values(), ids=CHANGE_NOTES.keys())
def test_pipeline_change_note(given: tuple[int, list[str], bool], words: str) -> None:
    from engine.run.trusted_source import pipeline_change_note

    number, touched, from_ci = given
    note = pipeline_change_note(number, touched, from_ci=from_ci)

    assert words in note
    assert "\n" not in note and "\x1b" not in note and "\r" not in note
