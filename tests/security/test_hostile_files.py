"""Files the engine reads are untrusted: only regular files within caps, and an
existing triggers file is checked like new jobs (exit 2, the file byte-identical)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.security.conftest import GRACE_SECONDS, TOKEN
from tests.support.engine_run import Result, run_cli, run_python

PIPELINE = 'trigger_job("new")\n'


def _source(tmp_path: Path, text: str = PIPELINE) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    return src


def _ingest(src: Path, triggers: Path, *extra: str | Path,
            env: dict[str, str] | None = None) -> Result:
    started = time.monotonic()
    result = run_cli("ingest", "--src", src, "--triggers-file", triggers, *extra,
                        env={"REACTORCIDE_API_TOKEN": TOKEN, **(env or {})}, timeout=60)
    assert time.monotonic() - started < 10 + GRACE_SECONDS
    assert "Traceback" not in result.output
    assert TOKEN not in result.output
    return result


# --- not regular files ---------------------------------------------------------------

def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_triggers_file_that_is_not_a_regular_file_is_refused(tmp_path: Path,
                                                               kind: str) -> None:
    src = _source(tmp_path)
    triggers = _fifo(tmp_path / "t.json") if kind == "fifo" else Path("/dev/zero")

    result = _ingest(src, triggers)

    assert result.code == 2, result.output
    assert "is not a regular file" in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_a_policy_file_that_is_not_a_regular_file_is_refused(tmp_path: Path,
                                                             kind: str) -> None:
    src = _source(tmp_path)
    policy = _fifo(tmp_path / "p.toml") if kind == "fifo" else Path("/dev/zero")

    result = _ingest(src, tmp_path / "t.json", "--policy", policy)

    assert result.code == 2, result.output
    assert "is not a regular file" in result.stderr
    assert not (tmp_path / "t.json").exists()


def test_a_pipeline_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _fifo(src / "pipeline.star")

    result = _ingest(src, tmp_path / "t.json")

    assert result.code == 2, result.output
    assert "not a file" in result.stderr or "not a regular file" in result.stderr


@pytest.mark.parametrize("target", ["fifo", "git-config"])
def test_a_loaded_file_that_is_a_fifo_or_leads_into_git_is_refused(tmp_path: Path,
                                                                  target: str) -> None:
    src = _source(tmp_path, 'load("lib.star", "x")\ntrigger_job("new")\n')
    if target == "fifo":
        _fifo(src / "lib.star")
    else:
        (src / ".git").mkdir()
        (src / ".git" / "config").write_text('x = "GIT-CONFIG-SECRET"\n', encoding="utf-8")
        os.symlink(src / ".git" / "config", src / "lib.star")

    result = _ingest(src, tmp_path / "t.json")

    assert result.code == 1, result.output
    assert "cannot load 'lib.star'" in result.stderr
    assert "GIT-CONFIG-SECRET" not in result.output


# --- the existing triggers file ------------------------------------------------------

def _existing(job: dict[str, object]) -> bytes:
    return json.dumps({"type": "trigger_job", "operation_id": "op-0", "jobs": [job]},
                      indent=2).encode()


EXISTING_FILES: dict[str, tuple[bytes, str]] = {
    "forbidden image": (_existing({"job_name": "old", "container_image": "evil/miner:1"}),
                        "container_image"),
    "priority beyond the policy": (_existing({"job_name": "old", "priority": 999999999}),
                                   "priority"),
    "reserved env key": (_existing({"job_name": "old", "env": {"REACTORCIDE_API_URL": "x"}}),
                         "REACTORCIDE_API_URL"),
    "NaN": (b'{"type": "trigger_job", "jobs": [{"job_name": "old", "resources": '
            b'{"cpu": NaN}}]}', "NaN is not a JSON number"),
    "Infinity": (b'{"type": "trigger_job", "jobs": [{"job_name": "o", "resources": '
                 b'{"cpu": -Infinity}}]}', "-Infinity is not a JSON number"),
    "1e999": (b'{"type": "trigger_job", "jobs": [{"job_name": "o", "resources": '
              b'{"cpu": 1e999}}]}', "out of range"),
    "beyond int64": (_existing({"job_name": "old", "priority": 2**63}), "64-bit"),
    "4300 digits": (b'{"type": "trigger_job", "jobs": [{"job_name": "o", "priority": '
                    + b"9" * 4400 + b"}]}", "not JSON"),
    "nested 100k deep": (b"[" * 100000 + b"]" * 100000, "nested too deep"),
    "larger than 8 MiB": (b" " * (8 * 1024 * 1024 + 1), "larger than 8 MiB"),
}


@pytest.mark.parametrize(("raw", "words"), list(EXISTING_FILES.values()),
                         ids=list(EXISTING_FILES))
def test_an_existing_triggers_file_is_checked_like_new_jobs(
        tmp_path: Path, raw: bytes, words: str) -> None:
    src = _source(tmp_path)
    policy = tmp_path / "policy.toml"
    policy.write_text('[jobs]\nallowed_images = ["registry.example/*"]\nmax_priority = 10\n',
                      encoding="utf-8")
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()
    triggers.write_bytes(raw)

    result = _ingest(src, triggers, "--policy", policy)

    assert result.code == 2, result.output
    assert "existing triggers file" in result.stderr
    assert words in result.stderr
    assert triggers.read_bytes() == raw
    assert sorted(p.name for p in triggers.parent.iterdir()) == ["triggers.json"]


def test_the_python_api_never_writes_a_non_finite_number(tmp_path: Path) -> None:
    triggers = tmp_path / "t.json"
    script = (
        "from workflow import WorkflowContext\n"
        "from workflow.errors import TriggerError\n"
        f"ctx = WorkflowContext({str(triggers)!r}, src_dir={str(tmp_path)!r})\n"
        "for value in (float('nan'), float('inf'), 2 ** 64):\n"
        "    try:\n"
        "        ctx.trigger_job('j', resources={'cpu': {'limit': value}})\n"
        "    except TriggerError as err:\n"
        "        print('refused:', str(err).splitlines()[0])\n"
    )
    result = run_python("-c", script)
    assert result.code == 0, result.output
    assert result.stdout.count("refused:") == 3, result.output
    assert "finite number" in result.stdout and "64-bit" in result.stdout
    assert not triggers.exists()


# --- the triggers path and its temporary files ---------------------------------------

def test_a_symlink_at_the_triggers_path_is_written_through_not_replaced(
        tmp_path: Path) -> None:
    src = _source(tmp_path)
    real = tmp_path / "real" / "triggers.json"
    real.parent.mkdir()
    link = tmp_path / "out" / "triggers.json"
    link.parent.mkdir()
    os.symlink(real, link)

    result = _ingest(src, link)

    assert result.code == 0, result.output
    assert link.is_symlink()
    assert json.loads(real.read_text())["jobs"][0]["job_name"] == "new"


def test_planted_temp_files_neither_block_nor_redirect_the_write(tmp_path: Path) -> None:
    src = _source(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    # Every name the old scheme could pick for small PIDs (PID 1 in a container).
    for pid in range(1, 200):
        os.symlink(victim, out / f".triggers.json.{pid}.tmp")

    result = _ingest(src, out / "triggers.json")

    assert result.code == 0, result.output
    assert victim.read_bytes() == b"precious\n"
    assert (out / "triggers.json").exists()
    assert len(list(out.iterdir())) == 200  # no temp file of this run left behind


# --- bad input is exit 1 or 2, never 3 -----------------------------------------------

def test_a_non_utf8_environment_value_is_a_usage_error(tmp_path: Path) -> None:
    src = _source(tmp_path)
    env = {"REACTORCIDE_BRANCH": os.fsdecode(b"feat-\xff")}

    result = _ingest(src, tmp_path / "t.json", env=env)

    assert result.code == 2, result.output
    assert "REACTORCIDE_BRANCH is not valid UTF-8" in result.stderr


def test_a_nul_in_a_load_path_is_an_error_at_the_call(tmp_path: Path) -> None:
    src = _source(tmp_path, 'load("a\\x00b.star", "x")\n')

    result = _ingest(src, tmp_path / "t.json")

    assert result.code == 1, result.output
    assert "pipeline.star:1:1: error: cannot load" in result.stderr


def test_an_empty_policy_list_entry_is_refused(tmp_path: Path) -> None:
    src = _source(tmp_path)

    result = _ingest(src, tmp_path / "t.json", env={"REACTORCIDE_PIPELINE_POLICY": ":"})

    assert result.code == 2, result.output
    assert "REACTORCIDE_PIPELINE_POLICY has an empty entry" in result.stderr
    assert not (tmp_path / "t.json").exists()


@pytest.mark.parametrize("text", [
    '{"format": "reactorcide-pipeline-transcript", "version": 1, "run": 5}',
    "[" * 100000,
    '{"format": "reactorcide-pipeline-transcript", "n": ' + "9" * 5000 + "}",
], ids=["wrong shape", "nested deep", "huge integer"])
def test_a_malformed_transcript_is_a_usage_error(tmp_path: Path, text: str) -> None:
    transcript = tmp_path / "t.json"
    transcript.write_text(text, encoding="utf-8")

    result = run_cli("replay", transcript)

    assert result.code == 2, result.output
    assert "Traceback" not in result.output
