"""`python -m engine` started with a standard stream closed, full or gone: the run does
its work, says nothing false, shows no traceback, and ends with the code Python's own
exit would give (120 when output written could not be flushed)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, clean_env

ENV = {"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "b" * 40,
       "REACTORCIDE_GIT_REF": "refs/heads/main"}
GOOD = 'trigger_job("a")\n'
BAD = 'trigger_job("a")\nfail("no")\n'


@dataclass(frozen=True)
class Case:
    name: str
    pipeline: str
    closed: tuple[int, ...] = ()  # descriptors closed before the engine starts
    full: tuple[int, ...] = ()  # descriptors pointing at /dev/full
    gone: bool = False  # stdout is a pipe whose reader has gone away
    code: int = 0
    written: bool = True


CASES = [
    Case("stdout closed", GOOD, closed=(1,)),
    Case("stderr closed", GOOD, closed=(2,)),
    Case("stdin closed", GOOD, closed=(0,)),
    Case("all three closed", GOOD, closed=(0, 1, 2)),
    Case("stdout full", GOOD, full=(1,), code=120),
    Case("stderr full", GOOD, full=(2,), code=120),
    Case("stdout's reader gone", GOOD, gone=True, code=120),
    Case("a failing pipeline keeps its code", BAD, full=(2,), code=1, written=False),
]


def _run(case: Case, src: Path, triggers: Path, err_path: Path) -> int:
    def prepare() -> None:  # in the child, before the engine starts
        for fd in case.full:
            full = os.open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
        for fd in case.closed:
            os.close(fd)

    read_end, write_end = os.pipe()
    if case.gone:
        os.close(read_end)
    with err_path.open("wb") as err:
        proc = subprocess.run(
            [sys.executable, "-m", "engine", "--src", str(src), "--triggers-file",
             str(triggers)],
            cwd=REPO_ROOT, env=clean_env(**ENV), stdin=subprocess.DEVNULL,
            stdout=write_end if case.gone else subprocess.DEVNULL, stderr=err,
            preexec_fn=prepare, timeout=60, check=False)
    os.close(write_end)
    if not case.gone:
        os.close(read_end)
    return proc.returncode


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_standard_stream_that_cannot_be_written(case: Case, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(case.pipeline, encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    err_path = tmp_path / "stderr"
    assert _run(case, src, triggers, err_path) == case.code
    assert triggers.exists() == case.written
    said = err_path.read_bytes().decode("utf-8", "replace")
    assert "Traceback" not in said
    assert "internal error" not in said
    if case.written:
        assert "nothing was written" not in said
        assert '"job_name": "a"' in triggers.read_text(encoding="utf-8")
