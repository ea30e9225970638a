"""The one git runner: its environment and options, shared with the engine's clones."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.capabilities.git.checkout_dir import find_checkout
from engine.capabilities.git.runner import (
    GitError,
    describe_failure,
    git_config_args,
    git_environment,
)


def test_the_environment_inherits_nothing_but_the_search_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REACTORCIDE_API_TOKEN", "tok-123456789012")
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", "/bin/evil")
    env = git_environment()
    assert "REACTORCIDE_API_TOKEN" not in env
    assert "GIT_DIR" not in env and "GIT_EXTERNAL_DIFF" not in env
    assert env["GIT_NO_LAZY_FETCH"] == "1"
    assert env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert git_environment({"GIT_CONFIG_GLOBAL": "/worker/gitconfig"})[
        "GIT_CONFIG_GLOBAL"] == "/worker/gitconfig"


@pytest.mark.parametrize(("network", "present", "absent"), [
    (False, "protocol.allow=never", "protocol.ext.allow=never"),
    (True, "protocol.ext.allow=never", "protocol.allow=never"),
])
def test_only_the_engines_own_clones_may_use_a_transport(
        network: bool, present: str, absent: str) -> None:
    args = git_config_args(network=network)
    assert present in args and absent not in args
    assert "core.fsmonitor=false" in args and "--no-pager" in args


def test_a_directory_shaped_like_a_bare_repository_is_not_a_checkout(tmp_path: Path) -> None:
    fake = tmp_path / "content" / "e"
    (fake / "objects").mkdir(parents=True)
    (fake / "refs").mkdir()
    (fake / "HEAD").write_text("ref: refs/heads/main\n")
    found = find_checkout(fake)
    # Whatever is found is a `.git` above, never the shaped directory itself.
    assert found is None or found.git_dir.name == ".git"


def test_a_gitfile_names_the_git_directory(tmp_path: Path) -> None:
    real = tmp_path / "store" / "worktrees" / "w"
    real.mkdir(parents=True)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {real}\n")
    checkout = find_checkout(tree)
    assert checkout is not None and checkout.git_dir == real and checkout.work_tree == tree
    (tree / ".git").write_text("nonsense\n")
    with pytest.raises(GitError, match="not a usable gitfile"):
        find_checkout(tree)


@pytest.mark.parametrize(("stderr", "words"), [
    (b"fatal: bad revision 'x'\n", "unknown revision"),
    (b"fatal: detected dubious ownership in repository at '/x'\n", "safe.directory"),
    (b"fatal: transport 'file' not allowed\n", "lacks objects"),
    (b"fatal: Out of memory, realloc failed\n", "memory limit of 64 MiB"),
    (b"fatal: /etc/passwd: root:x:0:0\n", "failed (exit status 128)"),
])
def test_git_failures_are_told_in_the_engines_words(stderr: bytes, words: str) -> None:
    message = describe_failure(("diff", "--name-only"), 128, stderr, 64)
    assert words in message
    assert "root:x" not in message and "/etc/passwd" not in message


def test_a_version_check_started_early_is_tracked_then_collected(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.capabilities.git import runner as git_runner

    monkeypatch.setattr(git_runner, "_version_checked", None)
    monkeypatch.setattr(git_runner, "_version_started", None)
    git_runner.start_version_check()
    started = git_runner._version_started
    assert started is not None
    assert started in git_runner._running  # a stopped run would kill it (kill_all)

    version = git_runner.check_version()

    assert version[:2] >= git_runner.MIN_VERSION
    assert started.returncode == 0
    assert started not in git_runner._running
    assert git_runner._version_started is None
    git_runner.start_version_check()  # answered already: nothing more is started
    assert git_runner._version_started is None
