"""`engine test`, `replay` and `check` are bound by the operator, and what the engine
shows is hygienic: no control characters, no budget bypass, no redaction oracle."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from engine.capabilities.git.live import strip_credentials
from tests.security.conftest import GRACE_SECONDS, TOKEN
from tests.support.engine_run import run_cli

SLOW = "x = 0\nfor i in range(100000000):\n    x += i\ntrigger_job(\"late\")\n"


def _record(tmp_path: Path, text: str, policy: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    loose = tmp_path / "loose.toml"
    loose.write_text(policy, encoding="utf-8")
    transcript = tmp_path / "cases" / "run.json"
    transcript.parent.mkdir()
    result = run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "t.json",
                        "--dry-run", "--record", transcript, "--policy", loose)
    assert transcript.exists(), result.output
    return transcript


def test_a_recorded_policy_cannot_loosen_the_operators(tmp_path: Path) -> None:
    transcript = _record(tmp_path, 'trigger_job("a", priority = 50)\n',
                         "[jobs]\nmax_priority = 1000\n")
    strict = tmp_path / "strict.toml"
    strict.write_text("[jobs]\nmax_priority = 10\n", encoding="utf-8")

    for command in (("replay", transcript, "--policy", strict),
                    ("test", transcript, "--policy", strict)):
        result = run_cli(*command)
        assert result.code == 1, result.output
        assert "maximum of 10" in result.output


def test_a_recorded_wall_clock_cannot_outlast_the_operators(tmp_path: Path) -> None:
    # Recorded with a generous wall clock; the slow loop would take far longer than 2 s.
    data = json.loads(_record(tmp_path, 'trigger_job("a")\n',
                              "[limits]\nwall_seconds = 600\n").read_text())
    data["sources"][data["run"]["pipeline"]] = SLOW
    transcript = tmp_path / "cases" / "slow.json"
    transcript.write_text(json.dumps(data), encoding="utf-8")
    strict = tmp_path / "strict.toml"
    strict.write_text("[limits]\nwall_seconds = 1\n", encoding="utf-8")
    started = time.monotonic()

    result = run_cli("test", transcript, "--policy", strict)

    assert time.monotonic() - started < 1 + GRACE_SECONDS
    assert result.code == 1, result.output


@pytest.mark.parametrize(("key", "value"), [
    ("pipeline", "/proc/self/environ"),
    ("pipeline", "../../outside.star"),
    ("src", "/"),
    ("existing", "/etc/passwd"),
])
def test_case_paths_stay_in_the_cases_tree(tmp_path: Path, key: str, value: str) -> None:
    (tmp_path / "outside.star").write_text('trigger_job("x")\n', encoding="utf-8")
    cases = tmp_path / "repo" / "cases"
    cases.mkdir(parents=True)
    (cases / "p.star").write_text('trigger_job("x")\n', encoding="utf-8")
    fields = {"pipeline": "p.star", key: value}
    body = "".join(f'{k} = "{v}"\n' for k, v in fields.items())
    (cases / "case.toml").write_text(body + "[expect]\njobs = []\n", encoding="utf-8")

    result = run_cli("test", cases / "case.toml")

    assert result.code == 1, result.output
    assert "leads outside the case's tree" in result.output
    assert TOKEN not in result.output


def test_update_never_writes_a_golden_outside_the_cases_tree(tmp_path: Path) -> None:
    cases = tmp_path / "repo" / "cases"
    cases.mkdir(parents=True)
    (cases / "p.star").write_text('trigger_job("x")\n', encoding="utf-8")
    target = tmp_path / "elsewhere.json"
    (cases / "case.toml").write_text(
        f'pipeline = "p.star"\n[expect]\ngolden = "{target}"\n', encoding="utf-8")

    result = run_cli("test", cases / "case.toml", "--update")

    assert result.code == 1, result.output
    assert not target.exists()


def test_check_refuses_a_pipeline_link_out_of_the_source_as_ingest_does(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret.star"
    secret.write_text('x = "HOST-SECRET"\n', encoding="utf-8")
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(secret, src / "pipeline.star")

    for command in (("check", src / "pipeline.star", "--src", src),
                    ("ingest", "--src", src, "--triggers-file", tmp_path / "t.json")):
        result = run_cli(*command)
        assert result.code == 2, result.output
        assert "a link to a file outside the source directory" in result.stderr
        assert "HOST-SECRET" not in result.output


def test_record_never_writes_through_a_planted_link(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text('trigger_job("a")\n', encoding="utf-8")
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    out = tmp_path / "out"
    out.mkdir()
    for pid in range(1, 200):
        os.symlink(victim, out / f".run.json.{pid}.tmp")

    result = run_cli("ingest", "--src", src, "--triggers-file", tmp_path / "t.json",
                        "--record", out / "run.json")

    assert result.code == 0, result.output
    assert victim.read_bytes() == b"precious\n"
    assert json.loads((out / "run.json").read_text())["format"]


# --- output hygiene ---------------------------------------------------------------------

def _run(tmp_path: Path, text: str, policy: str = "") -> tuple[int, str]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    args: list[str | Path] = ["ingest", "--src", src, "--triggers-file", tmp_path / "t.json"]
    if policy:
        (tmp_path / "p.toml").write_text(policy, encoding="utf-8")
        args += ["--policy", tmp_path / "p.toml"]
    result = run_cli(*args, env={"REACTORCIDE_API_TOKEN": TOKEN})
    return result.code, result.output


def test_control_characters_are_escaped_in_print_and_fail(tmp_path: Path) -> None:
    code, output = _run(tmp_path, 'print("a\\x1b[2Kb\\rc\\u202e")\nfail("z\\x1b]0;t\\x07")\n')
    assert code == 1
    assert "\x1b" not in output and "\r" not in output and "\u202e" not in output
    assert "a\\x1b[2Kb\\rc\\u202e" in output
    assert "z\\x1b]0;t\\x07" in output


def test_fail_shares_the_print_budget(tmp_path: Path) -> None:
    code, output = _run(tmp_path, 'print("p" * 600)\nfail("x" * 3000000)\n',
                        "[limits]\nmax_print_bytes = 1000\n")
    assert code == 1
    assert output.count("x") < 1000
    assert "print limit of 1000 bytes reached" in output


def test_redaction_is_no_oracle_for_a_pipeline_guessing_the_token(tmp_path: Path) -> None:
    guesses = ["tok-SECRET-122", TOKEN, "tok-SECRET-124"]
    code, output = _run(tmp_path, "".join(f'print("guess {g}")\n' for g in guesses))
    assert code == 0
    # Every guess is shown as printed: no answer tells which one is the token.
    for guess in guesses:
        assert f"guess {guess}" in output
    assert "[redacted]" not in output


@pytest.mark.parametrize(("url", "expected"), [
    ("//user:tok@host/x", "//host/x"),
    ("https:/user:tok@host/x", "https:/host/x"),
    ("https:user:tok@host/x", "host/x"),
    ("user:tok@host/x", "host/x"),
    ("git@host:x", "git@host:x"),
])
def test_loose_url_forms_lose_their_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected
