"""`changed_files` and `git_info` against real repositories, through the real CLI.

Each case builds a repository, runs a pipeline that stores what a builtin returned in a
job's env (as JSON), and compares that with the expectation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.git.scenarios import capture, history, shallow_clone
from tests.support.engine_run import Result
from tests.support.gitrepo import GitRepo, add_origin, make_repo

Setup = Callable[[GitRepo], None]


def _capture(tmp_path: Path, repo: GitRepo, expression: str,
             env: dict[str, str] | None = None, *options: str | Path) -> tuple[Result, Any]:
    return capture(tmp_path, repo.path, expression, env, *options)


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


def _names_with_newlines(repo: GitRepo) -> None:
    repo.commit({"new\nline.txt": "1\n", "ends with newline\n": "2\n", "-rf": "3\n",
                 "back\\slash 'single'.txt": "4\n"})


def _merge(repo: GitRepo) -> None:
    repo.branch("feature")
    repo.checkout("feature")
    repo.commit({"src/feature.py": "f\n"})
    repo.checkout("main")
    repo.commit({"src/main_only.py": "m\n"})
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")


def _diverged(repo: GitRepo) -> None:
    """`feature` has two commits; `origin/main` moved on by one after it branched."""
    repo.branch("feature")
    repo.commit({"src/app.py": "main moved\n"})
    add_origin(repo)
    repo.checkout("feature")
    repo.commit({"src/feature.py": "f\n"})
    repo.commit({"README": "r2\n"})


def _detached_after_change(repo: GitRepo) -> None:
    repo.commit({"src/app.py": "v2\n"})
    repo.checkout(repo.head(), detach=True)


CHANGED_CASES: dict[str, tuple[Setup, str, list[str]]] = {
    "last commit by default": (_two_commits, "changed_files()",
                               ["docs/a.md", "new file.txt", "src/app.py"]),
    "root commit: every file added": (_nothing, "changed_files()", ["README", "docs/a.md",
                                                                    "src/app.py"]),
    "root commit named another way (@^)": (_nothing, 'changed_files("@^")',
                                           ["README", "docs/a.md", "src/app.py"]),
    "root commit through its branch (main^ to HEAD)": (
        _nothing, 'changed_files("main^", "HEAD")', ["README", "docs/a.md", "src/app.py"]),
    "rename lists old and new path": (_rename, "changed_files()", ["docs/a.md", "guide/a.md"]),
    "names with spaces, tabs, quotes, non-ASCII": (
        _odd_names, "changed_files()",
        ["dir with space/tab\there.txt", 'q"uote.txt', "ünïcödé.py"],
    ),
    "since origin/main": (_feature_branch, 'changed_files("origin/main", "HEAD")',
                          ["README", "src/feature.py"]),
    "ctx.changed_files is the same function": (_two_commits, "ctx.changed_files()",
                                               ["docs/a.md", "new file.txt", "src/app.py"]),
    "newlines, backslashes, quotes and a leading dash in names": (
        _names_with_newlines, "changed_files()",
        ["new\nline.txt", "ends with newline\n", "-rf", "back\\slash 'single'.txt"],
    ),
    "a merge compares to its first parent": (_merge, "changed_files()", ["src/feature.py"]),
    "three dots: this side's changes since the merge base": (
        _diverged, 'changed_files("origin/main...HEAD")', ["README", "src/feature.py"]),
    "two refs: both sides' differences": (
        _diverged, 'changed_files("origin/main", "HEAD")',
        ["README", "src/app.py", "src/feature.py"]),
    "two dots are the same as two refs": (
        _diverged, 'changed_files("origin/main..HEAD")',
        ["README", "src/app.py", "src/feature.py"]),
    "an empty side of a range is HEAD": (
        _diverged, 'changed_files("origin/main...")', ["README", "src/feature.py"]),
    "keywords in any order": (
        _diverged, 'changed_files(to_ref = "HEAD~1", from_ref = "HEAD~2")',
        ["src/feature.py"]),
    "a detached checkout": (_detached_after_change, "changed_files()", ["src/app.py"]),
    "nothing changed: an empty list": (_nothing, 'changed_files("HEAD", "HEAD")', []),
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
    "a non-string to_ref": ('changed_files("HEAD^", 3)', "to_ref must be a string"),
    "option injection inside a range": ('changed_files("HEAD...--output=/tmp/x")',
                                        "not a valid git ref"),
    "a range and a to_ref": ('changed_files("HEAD^...HEAD", "HEAD")', "leave out to_ref"),
    "a path inside a revision": ('changed_files("HEAD:README")', "not a valid git ref"),
    "a commit-message search": ('changed_files(":/fix")', "not a valid git ref"),
    "a revision set": ('changed_files("HEAD^!")', "not a valid git ref"),
    "an unknown ref in changes()": ('changes("nope")', "'nope'"),
    "an unknown ref given to a glob builtin": ('changes_include("*", from_ref = "nope")',
                                              "'nope'"),
    "a reflog date (the answer would follow the clock)": (
        'changed_files("HEAD@{yesterday}")', "depend on the clock"),
    "a NUL byte in base_dir": ('changed_files(base_dir = "a\\0b")', "not a usable path"),
    "a base_dir too long for the system": (
        'git_info(base_dir = "x" * 5000)', "not a usable path"),
    "a base_dir that is not a string": ("changed_files(base_dir = 1)",
                                        "changed_files: base_dir must be a string, not int"),
    "a bad glob, with nothing changed": (
        'changes_include("/abs", from_ref = "HEAD", to_ref = "HEAD")', "relative to the"),
    "a reversed set, with nothing changed": (
        'changes_only("[z-a]", from_ref = "HEAD", to_ref = "HEAD")',
        "the set '[z-a]' at 0 is not valid"),
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


def _release_and_candidates(repo: GitRepo) -> None:
    for name in ("v2.0.0-rc1", "v2.0.0", "v2.0.0-rc2", "v1.10.0"):
        repo.tag(name)


def _remote(url: str) -> Setup:
    def setup(repo: GitRepo) -> None:
        repo.git("remote", "add", "origin", url)

    return setup


def _tag_elsewhere(repo: GitRepo) -> None:
    repo.tag("v9.0.0")
    repo.commit({"README": "r2\n"})


INFO_CASES: dict[str, tuple[Setup, dict[str, str], dict[str, Any]]] = {
    "branch and no tag": (_nothing, {}, {"branch": "main", "tag": None, "remote_url": None}),
    "highest version-sorted tag": (_tags, {}, {"tag": "v1.10.0"}),
    "credentials stripped from the remote": (
        _remote_with_credentials, {}, {"remote_url": "https://git.example.com/org/repo.git"}
    ),
    "detached head has no branch": (_detached, {}, {"branch": None}),
    "a release sorts above its candidates": (_release_and_candidates, {}, {"tag": "v2.0.0"}),
    "a tag on another commit is not HEAD's": (_tag_elsewhere, {}, {"tag": None}),
    "a token as the user name is stripped": (
        _remote("https://ghp_s3cret@github.com/org/repo.git"), {},
        {"remote_url": "https://github.com/org/repo.git"}),
    "ssh URL: the password goes, the user stays": (
        _remote("ssh://git:s3cret@git.example.com:2222/org/repo.git"), {},
        {"remote_url": "ssh://git@git.example.com:2222/org/repo.git"}),
    "scp-like: the password goes, the user stays": (
        _remote("git:s3cret@git.example.com:org/repo.git"), {},
        {"remote_url": "git@git.example.com:org/repo.git"}),
    "scp-like without a password is unchanged": (
        _remote("git@github.com:org/repo.git"), {},
        {"remote_url": "git@github.com:org/repo.git"}),
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


# --- missing history: shallow clones and refs that were not fetched -------------------


SHALLOW_ERRORS: dict[str, tuple[int, bool, str, list[str]]] = {
    "depth 1: no HEAD^ (never all files, never empty)": (
        1, False, "changed_files()",
        ["'HEAD^'", "shallow", "git fetch --deepen=<commits>", "--unshallow"]),
    "depth 1: changes() says the same": (1, False, "changes()", ["'HEAD^'", "--deepen"]),
    "depth 1: the glob builtins say the same": (
        1, False, 'changes_only("docs/**")', ["'HEAD^'", "--deepen"]),
    "depth 2: HEAD~2 is missing": (2, False, 'changed_files("HEAD~2")', ["'HEAD~2'"]),
    "no merge base within the fetched depth": (
        1, True, 'changed_files("origin/main...HEAD")',
        ["no merge base", "'origin/main'", "shallow", "--deepen"]),
    "a branch the single-branch clone did not fetch": (
        2, False, 'changed_files("origin/main", "HEAD")',
        ["'origin/main'", "`git fetch origin main`"]),
    "an ancestor of a branch that was not fetched": (
        2, False, 'changed_files("origin/main~1", "HEAD")',
        ["'origin/main~1'", "not fetched", "`git fetch origin main`", "--deepen"]),
    "another remote's branch": (
        2, False, 'changed_files("refs/remotes/upstream/main", "HEAD")',
        ["`git fetch upstream main`"]),
    "a tag that was not fetched": (
        2, False, 'changed_files("refs/tags/v9", "HEAD")', ["`git fetch origin tag v9`"]),
    "a reflog entry the clone does not have": (
        1, False, 'changed_files("@{-1}", "HEAD")', ["'@{-1}'", "reflog has no such entry"]),
}


@pytest.mark.parametrize("depth, all_branches, expression, needles",
                         SHALLOW_ERRORS.values(), ids=SHALLOW_ERRORS.keys())
def test_shallow_clone_errors_name_the_ref_and_what_to_fetch(
        tmp_path: Path, depth: int, all_branches: bool, expression: str,
        needles: list[str]) -> None:
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", depth, branch="feature",
                          all_branches=all_branches)
    result, _ = _capture(tmp_path, clone, expression)
    assert result.code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'capture.star'}:1:"), first
    for needle in needles:
        assert needle in first, (needle, first)
    assert not (tmp_path / "triggers.json").exists()


SHALLOW_ANSWERS: dict[str, tuple[int, str, list[str]]] = {
    "depth 2: the last commit's changes": (2, "changed_files()", ["docs/guide.md"]),
    "depth 3: two commits back": (3, 'changed_files("HEAD~2")',
                                  ["docs/guide.md", "src/feature.py"]),
    "depth 1: HEAD against itself": (1, 'changed_files("HEAD", "HEAD")', []),
}


@pytest.mark.parametrize("depth, expression, expected", SHALLOW_ANSWERS.values(),
                         ids=SHALLOW_ANSWERS.keys())
def test_shallow_clone_answers_what_it_has(tmp_path: Path, depth: int, expression: str,
                                           expected: list[str]) -> None:
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", depth, branch="feature")
    result, value = _capture(tmp_path, clone, expression)
    assert result.code == 0, result.output
    assert value == expected


def test_three_dots_work_when_the_merge_base_was_fetched(tmp_path: Path) -> None:
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", 3, branch="feature",
                          all_branches=True)
    result, value = _capture(tmp_path, clone, 'changed_files("origin/main...HEAD")')
    assert result.code == 0, result.output
    assert value == ["docs/guide.md", "src/feature.py"]


def test_all_changed_policy_fails_open_through_the_cli(tmp_path: Path) -> None:
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", 1, branch="feature")
    policy = tmp_path / "open.toml"
    policy.write_text('[git]\non_missing_history = "all_changed"\n', encoding="utf-8")
    result, value = _capture(tmp_path, clone, "changed_files()", None, "--policy", policy)
    assert result.code == 0, result.output
    assert value == ["README", "docs/guide.md", "src/app.py", "src/feature.py"]
    warning = [line for line in result.stderr.splitlines() if "all_changed" in line]
    assert len(warning) == 1 and "'HEAD^'" in warning[0], result.stderr
    result, _ = _capture(tmp_path, clone, "changed_files()")
    assert result.code == 1 and "--deepen" in result.stderr


DETACHED_BRANCH: dict[str, tuple[dict[str, str], str, str | None]] = {
    "REACTORCIDE_GIT_BRANCH": ({"REACTORCIDE_GIT_BRANCH": "feat"}, "git_info()", "feat"),
    "REACTORCIDE_BRANCH": ({"REACTORCIDE_BRANCH": "worker"}, "git_info()", "worker"),
    "the first wins": ({"REACTORCIDE_GIT_BRANCH": "a", "REACTORCIDE_BRANCH": "b"},
                       "git_info()", "a"),
    "a sub-directory is the same checkout": ({"REACTORCIDE_GIT_BRANCH": "feat"},
                                             'git_info(base_dir = "src")', "feat"),
    "nothing set: no branch": ({}, "git_info()", None),
}


@pytest.mark.parametrize("env, expression, expected", DETACHED_BRANCH.values(),
                         ids=DETACHED_BRANCH.keys())
def test_detached_checkout_takes_the_branch_from_the_environment(
        tmp_path: Path, env: dict[str, str], expression: str, expected: str | None) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n", "src/app.py": "v1\n"}])
    repo.checkout(repo.head(), detach=True)
    result, value = _capture(tmp_path, repo, expression, env)
    assert result.code == 0, result.output
    assert value["branch"] == expected
    assert value["commit"] == repo.head()
