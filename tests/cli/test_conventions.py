"""Command-line conventions: --version, did you mean for commands and options, help
wrapped to the terminal, the installed script's own name, colour, and the `used:` line
only for runs that evaluated, named as the policy keys."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, clean_env, run_cli

SCRIPT = Path(sys.executable).parent / "reactorcide-pipeline"
ESC = "\033["


def test_version() -> None:
    result = run_cli("--version")
    assert result.code == 0
    assert result.stdout.startswith("python -m engine (reactorcide-pipeline-engine) ")


@pytest.mark.skipif(not SCRIPT.exists(), reason="the console script is not installed")
def test_the_installed_script_names_itself() -> None:
    version = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True,
                             env=clean_env(), check=False)
    assert version.stdout.startswith("reactorcide-pipeline (reactorcide-pipeline-engine) ")
    helped = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True,
                            env=clean_env(), check=False)
    assert helped.stdout.startswith("usage: reactorcide-pipeline [COMMAND]")
    assert "python -m engine" not in helped.stdout


MISTYPED: dict[str, tuple[tuple[str, ...], str]] = {
    "command": (("plna",), "error: unknown command 'plna' (did you mean 'plan'?)"),
    "command with options": (("chek", "x.star"),
                             "error: unknown command 'chek' (did you mean 'check'?)"),
    "option": (("plan", "--forma", "json"),
               "error: plan: unknown option --forma (did you mean '--format'?)"),
    "option of another command": (("check", "--diff", "x"),
                                  "error: check: unknown option --diff (see --help)"),
    "colour": (("--color=sometimes", "plan"), "--color must be one of auto, always, never"),
}


@pytest.mark.parametrize("case", MISTYPED.values(), ids=MISTYPED.keys())
def test_mistyped_words_get_a_suggestion(tmp_path: Path,
                                         case: tuple[tuple[str, ...], str]) -> None:
    args, needle = case
    result = run_cli(*args, cwd=tmp_path)
    assert result.code == 2, result.output
    assert needle in result.stderr
    assert "unexpected argument" not in result.stderr


@pytest.mark.parametrize("columns", [50, 72, 120])
@pytest.mark.parametrize("args", [("--help",), ("plan", "--help"), ("check", "--help"),
                                  ("ingest", "--help")])
def test_help_is_wrapped_to_the_terminal(columns: int, args: tuple[str, ...]) -> None:
    result = run_cli(*args, env={"COLUMNS": str(columns)})
    assert result.code == 0
    widths = [len(line) for line in result.stdout.splitlines()]
    assert max(widths) <= columns, result.stdout
    assert "--color" in result.stdout


def _on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """stderr of the engine run with stderr on a pseudo-terminal."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO_ROOT,
                              env=clean_env(**env), stdout=subprocess.DEVNULL,
                              stderr=follower, stdin=subprocess.DEVNULL, timeout=60,
                              check=False)
        assert proc.returncode == 1
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)


@pytest.mark.parametrize(("flag", "env", "coloured"), [
    ((), {}, True), ((), {"NO_COLOR": "1"}, False), (("--color=never",), {}, False),
    (("--color=always",), {"NO_COLOR": "1"}, True)])
def test_colour_on_a_terminal(tmp_path: Path, flag: tuple[str, ...], env: dict[str, str],
                              coloured: bool) -> None:
    (tmp_path / "p.star").write_text('trigger_job("a", nope = 1)\n')
    text = _on_a_terminal("check", *flag, str(tmp_path / "p.star"), env=env)
    assert "error:" in text
    assert (ESC in text) is coloured, repr(text)


def test_no_colour_in_a_pipe_unless_asked(tmp_path: Path) -> None:
    (tmp_path / "p.star").write_text('trigger_job("a", nope = 1)\n')
    plain = run_cli("check", tmp_path / "p.star")
    assert ESC not in plain.stderr
    forced = run_cli("check", "--color", "always", tmp_path / "p.star")
    assert f"{ESC}1;31merror:" in forced.stderr


USED: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "ingest": ((), 'trigger_job("a")\n', True),
    "ingest that fails while running": ((), "x = 1 // 0\n", True),
    "ingest of a file that does not parse": ((), "x = )\n", False),
    "plan": (("plan",), 'trigger_job("a")\n', False),
    "plan that fails": (("plan",), "x = 1 // 0\n", False),
}


@pytest.mark.parametrize("case", USED.values(), ids=USED.keys())
def test_the_used_line_only_for_runs_that_evaluated(
        tmp_path: Path, case: tuple[tuple[str, ...], str, bool]) -> None:
    args, text, shown = case
    (tmp_path / "pipeline.star").write_text(text)
    result = run_cli(*args, "--src", tmp_path, "--triggers-file", tmp_path / "t.json",
                        env={"REACTORCIDE_GIT_BRANCH": "main", "REACTORCIDE_GIT_COMMIT": "c"})
    used = [line for line in result.stderr.splitlines() if line.startswith("used: ")]
    assert len(used) == (1 if shown else 0), result.stderr
    if shown:
        assert used[0].startswith("used: wall_seconds ")
        for key in ("cpu_seconds ", "memory_mb ", "max_jobs "):
            assert key in used[0]
        assert " s," not in used[0] and "MiB" not in used[0]
