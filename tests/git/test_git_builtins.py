"""`changed_files` and `git_info` against real repositories, through the real CLI.

Each case builds a repository, runs a pipeline that stores what a builtin returned in a
job's env (as JSON), and compares that with the expectation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine_run import Result, run_engine
from tests.support.gitrepo import GitRepo, add_origin, make_repo

Setup = Callable[[GitRepo], None]


def _capture(tmp_path: Path, repo: GitRepo, expression: str,
             env: dict[str, str] | None = None) -> tuple[Result, Any]:
    pipeline = tmp_path / "capture.star"
    pipeline.write_text(
        f'trigger_job("out", env = {{"R": json.encode({expression})}})\n', encoding="utf-8"
    )
    triggers = tmp_path / "triggers.json"
    triggers.unlink(missing_ok=True)
    result = run_engine("--src", repo.path, "--pipeline", pipeline, "--triggers-file", triggers,
                        env=env)
    if result.code != 0:
        return result, None
    doc = json.loads(triggers.read_text(encoding="utf-8"))
    return result, json.loads(doc["jobs"][0]["env"]["R"])


def _two_commits(repo: GitRepo) -> None:
    repo.commit({"src/app.py": "v2\n", "docs/a.md": None, "new file.txt": "x\n"})


def _rename(repo: GitRepo) -> None:
    repo.commit({"docs/a.md": None, "guide/a.md": "a\n"})


def _odd_names(repo: GitRepo) -> None:
    repo.commit({"dir with space/tab\there.txt": "1\n", "ünïcödé.py": "2\n", 'q"uote.txt': "3\n"})


def _feature_branch(repo: GitRepo) -> None:
    add_origin(repo)
    repo.branch("feature")
    repo.checkout("feature")
    repo.commit({"src/feature.py": "f\n"})
    repo.commit({"src/feature.py": "f2\n", "README": "r2\n"})


def _nothing(repo: GitRepo) -> None:
    return None


CHANGED_CASES: dict[str, tuple[Setup, str, list[str]]] = {
    "last commit by default": (_two_commits, "changed_files()",
                               ["docs/a.md", "new file.txt", "src/app.py"]),
    "root commit: every file added": (_nothing, "changed_files()", ["README", "docs/a.md",
                                                                    "src/app.py"]),
    "rename lists old and new path": (_rename, "changed_files()", ["docs/a.md", "guide/a.md"]),
    "names with spaces, tabs, quotes, non-ASCII": (
        _odd_names, "changed_files()",
        ["dir with space/tab\there.txt", 'q"uote.txt', "ünïcödé.py"],
    ),
    "since origin/main": (_feature_branch, 'changed_files("origin/main", "HEAD")',
                          ["README", "src/feature.py"]),
    "ctx.changed_files is the same function": (_two_commits, "ctx.changed_files()",
                                               ["docs/a.md", "new file.txt", "src/app.py"]),
}


@pytest.mark.parametrize("setup, expression, expected", CHANGED_CASES.values(),
                         ids=CHANGED_CASES.keys())
def test_changed_files(tmp_path: Path, setup: Setup, expression: str,
                       expected: list[str]) -> None:
    repo = make_repo(tmp_path / "repo",
                     [{"README": "r\n", "src/app.py": "v1\n", "docs/a.md": "a\n"}])
    setup(repo)
    result, value = _capture(tmp_path, repo, expression)
    assert result.code == 0, result.output
    assert sorted(value) == sorted(expected)


ERROR_CASES: dict[str, tuple[str, str]] = {
    "unknown ref names it and what to fetch": ('changed_files("origin/main", "HEAD")',
                                               "'origin/main'"),
    "option injection through a ref": ('changed_files("--output=/tmp/x")', "not a valid git ref"),
    "base_dir outside the source": ('changed_files(base_dir = "..")', "outside the source"),
    "absolute base_dir outside": ('changed_files(base_dir = "/")', "outside the source"),
    "a non-string ref": ("changed_files(1)", "from_ref must be a string"),
}


@pytest.mark.parametrize("expression, needle", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_changed_files_errors_point_at_the_call(tmp_path: Path, expression: str,
                                                needle: str) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n"}, {"README": "r2\n"}])
    result, _ = _capture(tmp_path, repo, expression)
    assert result.code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'capture.star'}:1:"), first
    assert needle in first
    assert "Traceback (most recent call last):\n  File" not in result.stderr
    assert not (tmp_path / "triggers.json").exists()
    if "--output" in expression:
        assert not Path("/tmp/x").exists()


def test_unknown_ref_says_what_to_fetch(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n"}])
    result, _ = _capture(tmp_path, repo, 'changed_files("origin/main", "HEAD")')
    assert result.code == 1
    assert "git fetch" in result.stderr


def test_base_dir_inside_the_source_is_allowed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n", "sub/a.txt": "a\n"}])
    repo.commit({"sub/a.txt": "b\n"})
    result, value = _capture(tmp_path, repo, 'changed_files(base_dir = "sub")')
    assert result.code == 0, result.output
    assert value == ["sub/a.txt"]


def _tags(repo: GitRepo) -> None:
    repo.tag("v1.9.0")
    repo.tag("v1.10.0")
    repo.tag("v1.2.0", message="annotated")


def _remote_with_credentials(repo: GitRepo) -> None:
    repo.git("remote", "add", "origin", "https://ci-user:s3cret@git.example.com/org/repo.git")


def _detached(repo: GitRepo) -> None:
    repo.checkout(repo.head(), detach=True)


INFO_CASES: dict[str, tuple[Setup, dict[str, str], dict[str, Any]]] = {
    "branch and no tag": (_nothing, {}, {"branch": "main", "tag": None, "remote_url": None}),
    "highest version-sorted tag": (_tags, {}, {"tag": "v1.10.0"}),
    "credentials stripped from the remote": (
        _remote_with_credentials, {}, {"remote_url": "https://git.example.com/org/repo.git"}
    ),
    "detached head has no branch": (_detached, {}, {"branch": None}),
}


@pytest.mark.parametrize("setup, env, expected", INFO_CASES.values(), ids=INFO_CASES.keys())
def test_git_info(tmp_path: Path, setup: Setup, env: dict[str, str],
                  expected: dict[str, Any]) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n"}])
    setup(repo)
    result, value = _capture(tmp_path, repo, "git_info()", env)
    assert result.code == 0, result.output
    assert value["commit"] == repo.head()
    assert value["short_commit"] == repo.head()[:7]
    for key, want in expected.items():
        assert value[key] == want, key
    assert "s3cret" not in result.output


def test_git_info_outside_a_repository_is_all_unknown(tmp_path: Path) -> None:
    src = tmp_path / "copy"
    src.mkdir()
    (src / "README").write_text("r\n", encoding="utf-8")
    result, value = _capture(tmp_path, make_repo_less(src), "git_info()")
    assert result.code == 0, result.output
    assert value == dict.fromkeys(("branch", "commit", "short_commit", "tag", "remote_url"))


def make_repo_less(path: Path) -> GitRepo:
    """A GitRepo handle on a plain directory (only `path` is used)."""
    return GitRepo(path)


def test_changed_files_outside_a_repository_is_an_error(tmp_path: Path) -> None:
    src = tmp_path / "copy"
    src.mkdir()
    result, _ = _capture(tmp_path, make_repo_less(src), "changed_files()")
    assert result.code == 1
    assert "not a git repository" in result.stderr


def test_ctx_falls_back_to_the_repository_then_prefers_the_environment(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n"}])
    result, value = _capture(tmp_path, repo, "[ctx.branch, ctx.commit, ctx.ref]")
    assert result.code == 0, result.output
    assert value == ["main", repo.head(), "refs/heads/main"]
    env = {"REACTORCIDE_BRANCH": "release/1.0", "REACTORCIDE_SHA": "f" * 40}
    result, value = _capture(tmp_path, repo, "[ctx.branch, ctx.commit, ctx.ref]", env)
    assert value == ["release/1.0", "f" * 40, "refs/heads/release/1.0"]
    env = {"REACTORCIDE_GIT_BRANCH": "documented", "REACTORCIDE_BRANCH": "worker",
           "REACTORCIDE_GIT_REF": "refs/pull/7/head"}
    result, value = _capture(tmp_path, repo, "[ctx.branch, ctx.ref]", env)
    assert value == ["documented", "refs/pull/7/head"]
