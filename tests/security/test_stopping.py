"""SIGTERM and SIGINT stop a run at once: child and git killed, lock released, the
triggers file as it was, one line, exit 143 or 130."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.security.conftest import TOKEN
from tests.security.planted import source_repo
from tests.support.engine_run import REPO_ROOT, clean_env

EXISTING = (b'{\n  "type": "trigger_job",\n  "operation_id": "op-1",\n  "jobs": [\n'
            b'    {\n      "job_name": "earlier"\n    }\n  ]\n}\n')


def _hanging_git(directory: Path, started: Path) -> Path:
    real = shutil.which("git")
    directory.mkdir()
    script = directory / "git"
    script.write_text(f'#!/bin/sh\ncase "$1" in version) exec {real} "$@";; esac\n'
                      f"echo $$ > {started}\nexec sleep 60\n", encoding="utf-8")
    script.chmod(0o755)
    return directory


def _wait_for(path: Path, seconds: float = 30.0) -> None:
    end = time.monotonic() + seconds
    while not path.exists() or not path.read_text().endswith("\n"):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "\nState:\tZ" not in status.read_text()


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_kills_git_and_the_child_and_leaves_the_file_as_it_was(
        tmp_path: Path, signum: int, code: int) -> None:
    repo = source_repo(tmp_path, 'x = changed_files()\ntrigger_job("new")\n')
    started = tmp_path / "git-started"
    shims = _hanging_git(tmp_path / "shims", started)
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()
    triggers.write_bytes(EXISTING)
    env = clean_env(REACTORCIDE_API_TOKEN=TOKEN,
                    PATH=f"{shims}{os.pathsep}{os.environ['PATH']}")
    process = subprocess.Popen(
        [sys.executable, "-m", "engine", "ingest", "--src", str(repo.path),
         "--triggers-file", str(triggers)],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started)
        git_pid = int(started.read_text())
        # Neither the engine's environment block nor git's holds the token.
        for pid in (process.pid, git_pid):
            assert TOKEN.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        process.send_signal(signum)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert err.strip().splitlines() == [
        f"stopped by {signal.Signals(signum).name}; the triggers file was left as it was"]
    assert "Traceback" not in out + err
    assert triggers.read_bytes() == EXISTING
    assert sorted(p.name for p in triggers.parent.iterdir()) == ["triggers.json"]
    assert not _alive(git_pid), "git outlived the run"
    fd = os.open(triggers.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock was released
    finally:
        os.close(fd)
