"""Repository content an attacker controls cannot make the engine's git read host files,
other repositories, run commands, or spoof the context."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.security.conftest import GRACE_SECONDS, TOKEN
from tests.security.planted import (
    OTHER_FILE,
    SECRET_LINE,
    git_shim,
    host_secret,
    other_repo,
    plant_bare_shape,
    source_repo,
)
from tests.support.engine_run import Result, run_cli, run_python


def ingest(src: Path, tmp_path: Path, *extra: str, env: dict[str, str] | None = None,
           policy: str | None = None) -> tuple[Result, Path]:
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir(exist_ok=True)
    args: list[str | Path] = ["ingest", "--src", src, "--triggers-file", triggers, *extra]
    if policy is not None:
        policy_path = tmp_path / "policy.toml"
        policy_path.write_text(policy, encoding="utf-8")
        args += ["--policy", policy_path]
    full_env = {"REACTORCIDE_API_TOKEN": TOKEN, **(env or {})}
    return run_cli(*args, env=full_env, timeout=60), triggers


def assert_nothing_leaked(result: Result, triggers: Path, *secrets: str) -> None:
    written = triggers.read_text(encoding="utf-8") if triggers.exists() else ""
    for secret in (TOKEN, *secrets):
        assert secret not in result.output, secret
        assert secret not in written, secret


PLANTED_PIPELINE = (
    'print(changed_files(base_dir = "e"))\n'
    'print(git_info(base_dir = "e"))\n'
    'trigger_job("x", env = {"F": str(changed_files(base_dir = "e/objects"))})\n'
)


def test_a_planted_bare_repository_with_alternates_to_a_host_file_is_never_read(
        tmp_path: Path) -> None:
    secret = host_secret(tmp_path)
    repo = source_repo(tmp_path, PLANTED_PIPELINE)
    plant_bare_shape(repo, "e", links={"objects/info/alternates": secret})
    (repo.path / "e" / "objects" / "info" / "keep").unlink(missing_ok=True)

    result, triggers = ingest(repo.path, tmp_path)

    # The questions go to the checkout itself: the plant is just files in it.
    assert result.code == 0, result.output
    assert "e/HEAD" in result.stderr
    assert_nothing_leaked(result, triggers, SECRET_LINE)


def test_another_repository_on_the_host_does_not_leak(tmp_path: Path) -> None:
    other = other_repo(tmp_path)
    pipeline = ('print(git_info(base_dir = "e"))\n'
                'print(changed_files(from_ref = "other-private-tag", base_dir = "e"))\n')
    repo = source_repo(tmp_path, pipeline)
    plant_bare_shape(repo, "e", links={"objects": other.path / ".git" / "objects",
                                       "refs/tags": other.path / ".git" / "refs" / "tags"})

    result, triggers = ingest(repo.path, tmp_path)

    assert result.code == 1, result.output
    assert "unknown git ref 'other-private-tag'" in result.stderr
    assert_nothing_leaked(result, triggers, OTHER_FILE, other.head())
    assert not triggers.exists()


def test_base_dir_outside_the_source_is_an_error_at_the_call(tmp_path: Path) -> None:
    other = other_repo(tmp_path)
    pipeline = f'print(changed_files(base_dir = "{other.path}"))\n'
    repo = source_repo(tmp_path, pipeline)

    result, triggers = ingest(repo.path, tmp_path)

    assert result.code == 1, result.output
    assert "pipeline.star:1:" in result.stderr
    assert "outside the source directory" in result.stderr
    assert_nothing_leaked(result, triggers, OTHER_FILE)


def _partial_clone_config(marker: Path, dump: Path) -> str:
    command = f"touch {marker}; cat /proc/[0-9]*/environ > {dump} 2>/dev/null; false"
    return ("[core]\n\trepositoryformatversion = 1\n\tbare = true\n"
            "[extensions]\n\tpartialClone = origin\n"
            f'[remote "origin"]\n\turl = {marker.parent / "nowhere"}\n'
            f'\tpromisor = true\n\tuploadpack = "{command}"\n')


@pytest.mark.parametrize("where", ["planted", "own-checkout"])
def test_a_promisor_remote_runs_no_command_even_on_git_without_no_lazy_fetch(
        tmp_path: Path, where: str) -> None:
    marker = tmp_path / "PWNED"
    stolen = tmp_path / "stolen-environ"
    env_dump = tmp_path / "git-environments"
    shims = git_shim(tmp_path / "shims", env_dump)
    if where == "planted":
        repo = source_repo(tmp_path, 'print(changed_files("HEAD^", "HEAD", base_dir = "e"))\n')
        plant_bare_shape(repo, "e", config=_partial_clone_config(marker, stolen))
    else:
        repo = source_repo(tmp_path, 'print(changed_files("HEAD~2", "HEAD"))\n')
        repo.commit({"more": "m\n"})
        # The checkout claims to be a partial clone and lacks an object the diff needs.
        tree = repo.git("rev-parse", "HEAD~2^{tree}")
        (repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
        for key, value in (("core.repositoryformatversion", "1"),
                           ("extensions.partialClone", "origin"),
                           ("remote.origin.url", str(tmp_path / "nowhere")),
                           ("remote.origin.promisor", "true"),
                           ("remote.origin.uploadpack",
                            f"touch {marker}; cat /proc/[0-9]*/environ > {stolen}; false")):
            repo.git("config", key, value)
    path = f"{shims}{os.pathsep}{os.environ['PATH']}"

    result, triggers = ingest(repo.path, tmp_path, env={"PATH": path})

    assert not marker.exists(), "git ran the repository's command"
    assert not stolen.exists()
    assert env_dump.exists(), "the shim was not used"
    recorded = env_dump.read_text(encoding="utf-8")
    assert "GIT_NO_LAZY_FETCH=1" in recorded
    assert TOKEN not in recorded, "git inherited the token"
    if where == "own-checkout":
        assert result.code == 1, result.output
        assert "lacks objects" in result.stderr
        assert "transport" not in result.stderr  # git's own words stay out
    else:
        assert result.code == 0, result.output
    assert_nothing_leaked(result, triggers)


def test_a_subdirectory_source_with_a_planted_bare_repository_cannot_spoof_the_branch(
        tmp_path: Path) -> None:
    repo = source_repo(tmp_path, "")
    plant_bare_shape(repo, "sub", head="ref: refs/heads/spoofed-release\n")
    (repo.path / "sub" / "pipeline.star").write_text(
        'print("branch=" + str(ctx.branch))\nprint(git_info())\n', encoding="utf-8")

    result, _ = ingest(repo.path / "sub", tmp_path)

    assert result.code == 0, result.output
    assert "branch=main" in result.stderr
    assert "spoofed-release" not in result.output


def test_a_git_too_old_is_refused_naming_its_version(tmp_path: Path) -> None:
    shims = git_shim(tmp_path / "shims", tmp_path / "dump", version="2.20.1")
    repo = source_repo(tmp_path, "print(changed_files())\n")
    path = f"{shims}{os.pathsep}{os.environ['PATH']}"

    result, triggers = ingest(repo.path, tmp_path, env={"PATH": path})

    assert result.code == 1, result.output
    assert "git 2.20.1 is too old" in result.stderr
    assert "2.32 or newer" in result.stderr
    assert not triggers.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to hand the checkout to another user")
def test_a_checkout_owned_by_another_user_is_refused_in_words(tmp_path: Path) -> None:
    repo = source_repo(tmp_path, "print(changed_files())\n")
    os.chown(repo.path / ".git", 54321, 54321)

    result, triggers = ingest(repo.path, tmp_path)

    assert result.code == 1, result.output
    assert "dubious ownership" in result.stderr
    assert "safe.directory" in result.stderr
    assert not triggers.exists()


def test_git_memory_is_limited_and_git_ends_with_the_run(tmp_path: Path) -> None:
    repo = source_repo(tmp_path, 'print(changed_files())\ntrigger_job("x")\n')
    alternates = repo.path / ".git" / "objects" / "info" / "alternates"
    alternates.parent.mkdir(parents=True, exist_ok=True)
    os.symlink("/dev/zero", alternates)
    started = time.monotonic()

    result, triggers = ingest(repo.path, tmp_path, policy=(
        "[limits]\nwall_seconds = 3\nmemory_mb = 256\n"))

    assert time.monotonic() - started < 3 + GRACE_SECONDS
    assert result.code == 1, result.output
    assert "memory limit of 256 MiB" in result.stderr or "wall-clock limit" in result.stderr
    assert not triggers.exists()
    leftover = subprocess.run(["pgrep", "-f", str(repo.path / ".git")],
                              capture_output=True, text=True, check=False)
    assert leftover.stdout == ""


def test_the_python_api_runs_git_without_the_token(tmp_path: Path) -> None:
    dump = tmp_path / "git-environments"
    shims = git_shim(tmp_path / "shims", dump)
    repo = source_repo(tmp_path, "")
    plant_bare_shape(repo, "e", head="ref: refs/heads/spoofed\n")
    script = (
        "from workflow import WorkflowContext\n"
        f"ctx = WorkflowContext({str(tmp_path / 't.json')!r}, src_dir={str(repo.path)!r})\n"
        "print(ctx.branch)\n"
        "from workflow import changed_files, git_info\n"
        f"print(changed_files(base_dir={str(repo.path / 'e')!r}))\n"
        f"print(git_info(base_dir={str(repo.path / 'e')!r})['branch'])\n"
    )
    env = {"REACTORCIDE_API_TOKEN": TOKEN,
           "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}

    result = run_python("-c", script, env=env)

    assert result.code == 0, result.output
    assert "spoofed" not in result.output
    assert dump.exists()
    assert TOKEN not in dump.read_text(encoding="utf-8")
