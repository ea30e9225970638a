"""`LiveGit` in-process on real repositories: the missing-history policy, the branch from
the environment, ref checks, credential stripping, caching and lazy loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.deferred import UnconfiguredJobState
from engine.capabilities.git.live import (
    LiveGit,
    MissingHistory,
    scrub_git_environment,
    start_preload,
    strip_credentials,
)
from engine.capabilities.git.refs import check_rev, normalize
from engine.capabilities.git.runner import Checkout
from engine.core.builtin_table import GIT_VERSION, preloads
from engine.sandbox.broker import HostServices, PrintSink
from engine.sandbox.proxies import Channel, RemoteGit
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.git import git_builtins
from tests.git.scenarios import history, shallow_clone
from tests.support.engine_run import REPO_ROOT, clean_env
from tests.support.gitrepo import GitRepo, make_repo

FILES = ["README", "docs/guide.md", "src/app.py", "src/feature.py"]


@pytest.fixture
def scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let `scrub_git_environment` change this process's environment, then restore it."""
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    for key in ("GIT_CEILING_DIRECTORIES", "GIT_TERMINAL_PROMPT", "GIT_CONFIG_NOSYSTEM",
                "GIT_NO_LAZY_FETCH"):
        monkeypatch.setenv(key, "")


def _live(repo: GitRepo | Path, **options: Any) -> LiveGit:
    path = repo.path if isinstance(repo, GitRepo) else repo
    scrub_git_environment(str(path))
    return LiveGit(path, **options)


# --- on_missing_history -----------------------------------------------------------------

FAIL_OPEN: dict[str, tuple[str, str | None, bool]] = {
    "HEAD^ beyond a depth-1 clone": ("HEAD^", None, False),
    "no merge base within the depth": ("origin/main...HEAD", None, True),
    "a ref that was not fetched": ("origin/release", "HEAD", True),
}


@pytest.mark.parametrize("from_ref, to_ref, all_branches", FAIL_OPEN.values(),
                         ids=FAIL_OPEN.keys())
def test_all_changed_fails_open_with_one_warning(
        tmp_path: Path, scrubbed: None, from_ref: str, to_ref: str | None,
        all_branches: bool) -> None:
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", 1, branch="feature",
                          all_branches=all_branches)
    strict = _live(clone)
    with pytest.raises(MissingHistory):
        strict.changed_files(from_ref, to_ref, None)
    assert strict.warnings == []

    live = _live(clone, on_missing_history="all_changed")
    assert live.changed_files(from_ref, to_ref, None) == FILES
    assert live.changes(from_ref, to_ref, None) == [
        {"path": path, "status": "modified", "old_path": None} for path in FILES]
    assert len(live.warnings) == 1
    warning = live.warnings[0]
    for needle in ('on_missing_history = "all_changed"', f"all {len(FILES)} files",
                   "git fetch"):
        assert needle in warning, warning


FAIL_OPEN_STILL_ERRORS: dict[str, tuple[str, str]] = {
    "an invalid ref": ("--output=/tmp/x", "not a valid git ref"),
    "a path in a ref": ("HEAD:README", "not a valid git ref"),
}


@pytest.mark.parametrize("ref, needle", FAIL_OPEN_STILL_ERRORS.values(),
                         ids=FAIL_OPEN_STILL_ERRORS.keys())
def test_all_changed_never_hides_a_bad_ref(tmp_path: Path, scrubbed: None, ref: str,
                                           needle: str) -> None:
    live = _live(make_repo(tmp_path / "src", [{"README": "r\n"}]),
                 on_missing_history="all_changed")
    with pytest.raises(CapabilityError, match=needle):
        live.changed_files(ref, None, None)
    assert live.warnings == []


def test_all_changed_outside_a_repository_is_still_an_error(tmp_path: Path,
                                                            scrubbed: None) -> None:
    (tmp_path / "copy").mkdir()
    live = _live(tmp_path / "copy", on_missing_history="all_changed")
    with pytest.raises(CapabilityError, match="not a git repository"):
        live.changed_files("HEAD^", None, None)


def test_unknown_policy_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="on_missing_history"):
        LiveGit(tmp_path, on_missing_history="ignore")


# --- the branch ------------------------------------------------------------------------


def _detach(repo: GitRepo) -> None:
    repo.checkout(repo.head(), detach=True)


BRANCHES: dict[str, tuple[bool, str | None, str | None]] = {
    # detached, env_branch, expected branch
    "detached, branch from the environment": (True, "release/1.0", "release/1.0"),
    "detached, no environment": (True, None, None),
    "on a branch, the environment still wins": (False, "from-env", "from-env"),
    "on a branch, no environment": (False, None, "main"),
    "an empty environment value is unknown": (True, "", None),
}


@pytest.mark.parametrize("detached, env_branch, expected", BRANCHES.values(),
                         ids=BRANCHES.keys())
def test_branch_comes_from_the_environment_first(tmp_path: Path, scrubbed: None,
                                                 detached: bool, env_branch: str | None,
                                                 expected: str | None) -> None:
    repo = make_repo(tmp_path / "src", [{"README": "r\n"}])
    if detached:
        _detach(repo)
    info = _live(repo, env_branch=env_branch).info(None)
    assert info["branch"] == expected
    assert info["commit"] == repo.head()


def test_environment_branch_is_not_applied_to_another_checkout(tmp_path: Path,
                                                               scrubbed: None) -> None:
    src = make_repo(tmp_path / "src", [{"README": "r\n"}])
    make_repo(src.path / "vendor" / "lib", [{"lib.py": "x\n"}], branch="lib-main")
    live = _live(src, env_branch="from-env")
    assert live.info(None)["branch"] == "from-env"
    assert live.info("vendor/lib")["branch"] == "lib-main"


def test_environment_branch_applies_to_a_directory_of_the_same_checkout(
        tmp_path: Path, scrubbed: None) -> None:
    repo = make_repo(tmp_path / "src", [{"README": "r\n", "sub/x.txt": "x\n"}])
    _detach(repo)
    live = _live(repo, env_branch="from-env")
    assert live.info("sub")["branch"] == live.info(None)["branch"] == "from-env"


def test_environment_branch_outside_a_repository(tmp_path: Path, scrubbed: None) -> None:
    (tmp_path / "copy").mkdir()
    info = _live(tmp_path / "copy", env_branch="main").info(None)
    assert info == {"branch": "main", "commit": None, "short_commit": None, "tag": None,
                    "remote_url": None}


# --- refs ------------------------------------------------------------------------------

VALID_REVS = ["HEAD", "HEAD^", "HEAD^2", "HEAD~3", "HEAD~", "main", "origin/main",
              "refs/heads/feature/x", "v1.0.0", "abc1234", "HEAD@{1}", "@", "@{u}", "@{-1}",
              "main@{upstream}", "HEAD^{commit}", "HEAD^{}", "ünï-branch",
              "release/1.0~2^2", "a-b_c+d", "feature@home", "main@{push}", "HEAD@{12}"]
INVALID_REVS = ["", "-x", "--output=/tmp/x", "HEAD:README", ":/fix", "HEAD^!", "HEAD^@",
                "HEAD^-", "a b", "a..b", ".hidden", "a/.b", "a.lock", "a/", "/a", "a//b",
                "a\\b", "a*", "a?", "a[1]", "HEAD^{/fix}", "HEAD@{", "main.", "a\nb",
                "a\x00b", "a\tb", "x" * 2000, "@{", "HEAD~-1", "HEAD@{yesterday}",
                "main@{2 days ago}", "HEAD^{tree}", "HEAD^{tag}"]


@pytest.mark.parametrize("rev", VALID_REVS)
def test_valid_revisions_pass(rev: str) -> None:
    assert check_rev(rev) == rev


@pytest.mark.parametrize("rev", INVALID_REVS, ids=lambda rev: repr(rev)[:24])
def test_invalid_revisions_are_refused(rev: str) -> None:
    with pytest.raises(CapabilityError, match="not a valid git ref"):
        check_rev(rev)


NORMALIZED: dict[str, tuple[str, str | None, tuple[str, str | None]]] = {
    "default to_ref": ("HEAD^", None, ("HEAD^", "HEAD")),
    "two refs": ("a", "b", ("a", "b")),
    "two dots": ("a..b", None, ("a", "b")),
    "three dots": ("a...b", None, ("a...b", None)),
    "three dots, empty right": ("origin/main...", None, ("origin/main...HEAD", None)),
    "two dots, empty left": ("..b", None, ("HEAD", "b")),
}


@pytest.mark.parametrize("from_ref, to_ref, expected", NORMALIZED.values(),
                         ids=NORMALIZED.keys())
def test_one_question_one_form(from_ref: str, to_ref: str | None,
                               expected: tuple[str, str | None]) -> None:
    assert normalize(from_ref, to_ref) == expected


BAD_RANGES: dict[str, tuple[str, str | None, str]] = {
    "dots only": ("...", None, "not a valid git range"),
    "range and to_ref": ("a...b", "HEAD", "leave out to_ref"),
    "four dots": ("a....b", None, "not a valid git ref"),
    "two ranges": ("a...b...c", None, "not a valid git ref"),
    "an option on the right": ("a..-x", None, "not a valid git ref"),
}


@pytest.mark.parametrize("from_ref, to_ref, needle", BAD_RANGES.values(),
                         ids=BAD_RANGES.keys())
def test_bad_ranges_are_refused(from_ref: str, to_ref: str | None, needle: str) -> None:
    with pytest.raises(CapabilityError, match=needle):
        normalize(from_ref, to_ref)


# --- remote URLs -----------------------------------------------------------------------

URLS: dict[str, tuple[str, str]] = {
    "https user and token": ("https://user:tok@host/o/r.git", "https://host/o/r.git"),
    "https token as user": ("https://ghp_tok@host/o/r.git", "https://host/o/r.git"),
    "https with port": ("http://u:tok@host:8080/r.git", "http://host:8080/r.git"),
    "https, an @ in the password": ("https://u:p@ss@host/r.git", "https://host/r.git"),
    "https, a / in the password": ("https://u:pa/ss@host/r.git", "https://host/r.git"),
    "https, plain": ("https://host/o/r.git", "https://host/o/r.git"),
    "https, a port and an @ in the path": ("https://host:8080/a@b", "https://host:8080/a@b"),
    "ssh, user and password": ("ssh://git:tok@host/r.git", "ssh://git@host/r.git"),
    "ssh, user only": ("ssh://git@host:22/r.git", "ssh://git@host:22/r.git"),
    "git+ssh": ("git+ssh://u:tok@host/r.git", "git+ssh://u@host/r.git"),
    "scp-like with password": ("git:tok@host:o/r.git", "git@host:o/r.git"),
    "scp-like, odd password": ("git:p/a@ss@host:o/r@v.git", "git@host:o/r@v.git"),
    "scp-like": ("git@host:o/r.git", "git@host:o/r.git"),
    "a local path": ("/srv/git/r.git", "/srv/git/r.git"),
    "file URL": ("file:///srv/git/r.git", "file:///srv/git/r.git"),
    "a token in the query": ("https://host/r.git?access_token=tok", "https://host/r.git"),
    "a fragment": ("https://u:tok@host/r.git#main", "https://host/r.git"),
    "an @ in the fragment, no path": ("https://u:tok@host#x@y", "https://y"),
    "a ? in the password": ("https://u:p?tok@host/r", "https://host/r"),
}


@pytest.mark.parametrize("url, expected", URLS.values(), ids=URLS.keys())
def test_credentials_are_stripped(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
    assert not any(secret in strip_credentials(url) for secret in ("tok", "pa/ss", "p/a@ss"))


# --- one question, one git call, one transfer -------------------------------------------


class CountingChannel(Channel):
    """The child's channel, wired straight to the parent's services (no fork)."""

    def __init__(self, services: HostServices) -> None:
        super().__init__(-1, -1)
        self.services = services
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, capability: str, method: str, *args: Any) -> Any:
        self.calls.append((method, args))
        value = self.services.answer(capability, method, list(args))
        return json.loads(json.dumps(value))  # what the pipe does to it


def test_glob_builtins_reuse_one_answer(tmp_path: Path, scrubbed: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "src", [{"README": "r\n", "src/app.py": "v1\n"},
                                        {"src/app.py": "v2\n", "docs/a.md": "a\n"}])
    live = _live(repo)
    runs: list[tuple[str, ...]] = []
    execute = live._execute

    def counted(cwd: Checkout, args: tuple[str, ...]) -> tuple[bytes, str]:
        runs.append(args)
        return execute(cwd, args)

    monkeypatch.setattr(live, "_execute", counted)
    services = HostServices(live, UnconfiguredJobState("none"), PrintSink(None, 1000))
    channel = CountingChannel(services)
    builtins = git_builtins(RemoteGit(channel))
    assert builtins["changed_files"]() == ["docs/a.md", "src/app.py"]
    globs = [f"dir{n}/**" for n in range(18)] + ["**/*.md", "src/*.py"]
    assert [g for g in globs if builtins["changes_include"](g)] == ["**/*.md", "src/*.py"]
    assert builtins["changes_only"]("docs/**", "src/**")
    assert builtins["changed_files"]("HEAD^", "HEAD") == ["docs/a.md", "src/app.py"]
    assert builtins["changes_include"]("docs/*", from_ref="HEAD^..HEAD")
    assert channel.calls == [("changed_files", ("HEAD^", "HEAD", None))]
    assert [args[0] for args in runs] == ["diff"]
    assert services.calls == 1


def _record_git(live: LiveGit, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    runs: list[tuple[str, ...]] = []
    run_git = live._run_git

    def recorded(cwd: Checkout, args: tuple[str, ...]) -> tuple[bytes, str]:
        runs.append((str(cwd.work_tree), *args))
        return run_git(cwd, args)

    monkeypatch.setattr(live, "_run_git", recorded)
    return runs


def test_no_git_command_runs_twice_in_an_evaluation(tmp_path: Path, scrubbed: None,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Failing open on a shallow clone asks the most follow-up questions.
    clone = shallow_clone(history(tmp_path), tmp_path / "clone", 1, branch="feature")
    live = _live(clone, on_missing_history="all_changed")
    runs = _record_git(live, monkeypatch)
    for base_dir in (None, ".", str(clone.path)):
        assert live.changed_files("HEAD^", "HEAD", base_dir) == FILES
        assert len(live.changes("HEAD^", "HEAD", base_dir)) == len(FILES)
        assert live.changed_files("HEAD~1", "HEAD", base_dir) == FILES
        assert live.info(base_dir)["commit"] == clone.head()
    assert runs, "git was never run"
    assert len(runs) == len(set(runs)), sorted(runs)


def test_the_root_commit_is_looked_at_once(tmp_path: Path, scrubbed: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    live = _live(make_repo(tmp_path / "src", [{"README": "r\n"}]))
    runs = _record_git(live, monkeypatch)
    assert live.changed_files("HEAD^", "HEAD", None) == ["README"]
    assert live.changes("HEAD^", "HEAD", None) == [
        {"path": "README", "status": "added", "old_path": None}]
    assert len(runs) == len(set(runs)), sorted(runs)


def test_a_failed_question_is_asked_once_too(tmp_path: Path, scrubbed: None) -> None:
    repo = make_repo(tmp_path / "src", [{"README": "r\n"}])
    services = HostServices(_live(repo), UnconfiguredJobState("none"), PrintSink(None, 1000))
    channel = CountingChannel(services)
    builtins = git_builtins(RemoteGit(channel))
    for _ in range(3):
        with pytest.raises(BuiltinError, match="'origin/main'"):
            builtins["changes_include"]("*", from_ref="origin/main")
    assert len(channel.calls) == 1


# --- loading GitPython ------------------------------------------------------------------


def test_gitpython_is_never_imported_by_a_git_question(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "src", [{"README": "r\n"}, {"README": "r2\n"}])
    code = f"""
import sys
import pipeline_builtins, pipeline_builtins.git, engine.sandbox.proxies
from engine.capabilities.git.live import LiveGit, scrub_git_environment
scrub_git_environment({str(repo.path)!r})
live = LiveGit({str(repo.path)!r})
assert "git" not in sys.modules, "GitPython imported before any question"
assert live.changed_files("HEAD^", "HEAD", None) == ["README"]
assert live.info(None)["commit"]
assert "git" not in sys.modules, "GitPython imported by a git question"
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=clean_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_preload_imports_gitpython_in_the_background() -> None:
    code = """
import sys
from engine.capabilities.git.live import start_preload
start_preload().join()
assert "git.cmd" in sys.modules
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=clean_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    start_preload().join()  # and harmless when already loaded


MENTIONS: dict[str, tuple[str, bool]] = {
    "changed_files": ("files = changed_files()\n", True),
    "a glob builtin": ('if changes_include("*.py"):\n    pass\n', True),
    "through ctx": ("info = ctx.git_info()\n", True),
    "a longer name": ("my_changed_files_helper = 1\n", False),
    "none": ('trigger_job("a")\n', False),
}


@pytest.mark.parametrize("text, expected", MENTIONS.values(), ids=MENTIONS.keys())
def test_mentions_git(text: str, expected: bool) -> None:
    assert (GIT_VERSION in preloads(text)) is expected
