"""Working where you stand: --src defaults to the repository around the current
directory outside a job, a bad --src is a usage error, and git is only ever run in the
directory named."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.live import LiveGit
from engine.run.where import repository_top
from tests.support.engine_run import run_cli
from tests.support.gitrepo import make_repo

PIPELINE = 'trigger_job("build", env = {"N": str(len(changed_files("HEAD^", "HEAD")))})\n'
outside_a_job = pytest.mark.skipif(os.path.isdir("/job/src"),
                                   reason="this machine has /job/src: it is a job")


@outside_a_job
def test_plan_with_no_flags_in_a_subdirectory_of_a_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "myrepo", [{"pipeline.star": PIPELINE, "a/b/x.txt": "1"},
                                           {"a/b/x.txt": "2"}])
    result = run_cli("plan", cwd=repo.path / "a" / "b")
    assert result.code == 0, result.output
    assert "build" in result.stdout
    check = run_cli("check", ".", cwd=repo.path)
    assert check.code == 0, check.output
    assert check.stdout == "checked 1 file: 0 errors, 0 warnings\n"


@outside_a_job
def test_errors_name_the_pipeline_relative_to_where_you_stand(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", [{"pipeline.star": "x = 1 // 0\n", "sub/k": ""}])
    result = run_cli("plan", cwd=repo.path / "sub")
    assert result.code == 1
    assert result.stderr.startswith("../pipeline.star:1:5: error: "), result.stderr


@outside_a_job
def test_outside_any_repository_the_current_directory_is_the_source(tmp_path: Path) -> None:
    (tmp_path / "pipeline.star").write_text('trigger_job("here")\n')
    result = run_cli("plan", cwd=tmp_path)
    assert result.code == 0, result.output
    assert "here" in result.stdout


def test_inside_a_job_the_default_stays_job_src(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", [{"pipeline.star": 'trigger_job("x")\n'}])
    result = run_cli("plan", cwd=repo.path, env={"REACTORCIDE_JOB_ID": "j1"})
    if not os.path.isdir("/job/src"):
        assert result.code == 2
        assert result.stderr.startswith("/job/src/pipeline.star: error: "), result.stderr


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_an_unusable_src_is_a_usage_error(tmp_path: Path, kind: str) -> None:
    # The current directory is a repository with a pipeline: it must not be used.
    repo = make_repo(tmp_path / "r", [{"pipeline.star": PIPELINE, "f": "1"}, {"f": "2"}])
    src = tmp_path / "does" / "not" / "exist"
    if kind == "file":
        src = tmp_path / "plain-file"
        src.write_text("")
    result = run_cli("plan", "--src", src, "--pipeline", repo.path / "pipeline.star",
                        cwd=repo.path)
    assert result.code == 2, result.output
    reason = "does not exist" if kind == "missing" else "is not a directory"
    assert result.stderr.startswith(f"{src}: error: the source directory {reason}")


def test_git_is_never_asked_about_the_current_directory(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    repo = make_repo(tmp_path / "r", [{"f": "1"}, {"f": "2"}])
    monkeypatch.chdir(repo.path)
    git = LiveGit(tmp_path / "gone")
    with pytest.raises(CapabilityError, match="is not a git repository"):
        git.changed_files("HEAD^", "HEAD", None)


def test_git_in_a_plain_directory_does_not_climb_to_the_current_repository(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", [{"f": "1"}, {"f": "2"}])
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pipeline.star").write_text(PIPELINE)
    result = run_cli("plan", "--src", plain, cwd=repo.path)
    assert result.code == 1, result.output
    assert "not a git repository" in result.stderr


def test_repository_top(tmp_path: Path) -> None:
    (tmp_path / "top" / ".git").mkdir(parents=True)
    (tmp_path / "top" / "a" / "b").mkdir(parents=True)
    assert repository_top(str(tmp_path / "top" / "a" / "b")) == str(tmp_path / "top")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text("gitdir: elsewhere\n")  # a worktree
    assert repository_top(str(tmp_path / "wt")) == str(tmp_path / "wt")
