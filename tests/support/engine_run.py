"""Run the real engine command, or a Python script of the workflow API: forked from a
warm interpreter (`run_cli`, `run_script`), or in a fresh one (`run_engine`,
`run_python`) where the process's own start is what a test is about."""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    """Exit code and both output streams of one engine run."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for "never appears anywhere" checks."""
        return self.stdout + self.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any REACTORCIDE_*, RC_WF_* or GIT_* variable."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("REACTORCIDE_", "RC_WF_", "GIT_"))
    }
    env.update(extra)
    return env


class _Server:
    """This process's tests.support.engine_server, started on first use."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.engine_server"], cwd=REPO_ROOT,
            env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            encoding="utf-8")
        self.pid = os.getpid()
        self.lock = threading.Lock()
        atexit.register(self.close)

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self.lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the engine server ended; its stderr is in the test output")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_server: _Server | None = None


def _text(raw: str) -> str:
    """Output as `text=True` reads it: universal newlines."""
    return raw.replace("\r\n", "\n").replace("\r", "\n")


def run_cli(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`python -m engine ARGS...` with the environment, working directory and stdin
    `run_engine` would give it, in a process forked from a warm interpreter
    (tests.support.engine_server) instead of a fresh one: a process of its own, whose
    sandbox is a real sandboxed child, without the interpreter's start and the
    engine's imports. For what the engine does, not how its process starts."""
    return _forked({"script": None, "args": [os.fspath(arg) for arg in args]}, env, cwd,
                   timeout)


def _forked(request: dict[str, Any], env: dict[str, str] | None, cwd: Path | None,
            timeout: float) -> Result:
    global _server
    if _server is None or _server.pid != os.getpid() or _server.proc.poll() is not None:
        _server = _Server()
    reply = _server.run({**request, "env": clean_env(**(env or {})),
                         "cwd": os.fspath(cwd or REPO_ROOT), "timeout": timeout})
    if reply["code"] is None:
        command = [request["script"] or "-m engine", *request["args"]]
        raise subprocess.TimeoutExpired(["python", *command], timeout, reply["stdout"],
                                        reply["stderr"])
    return Result(reply["code"], _text(reply["stdout"]), _text(reply["stderr"]))


def run_script(script: Path, *args: str | Path, cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 60) -> Result:
    """`python SCRIPT ARGS...` with the environment, working directory and stdin
    `run_python` would give it, forked from the warm interpreter as `run_cli` runs the
    engine: for scripts of the `workflow` API, where what the script does is what is
    tested."""
    return _forked({"script": os.fspath(script), "args": [os.fspath(arg) for arg in args]},
                   env, cwd, timeout)


def run_engine(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`python -m engine ARGS...` in a fresh interpreter with a clean environment plus
    `env`: for what only a process shows (its start, exit, signals, environment block)."""
    return run_python("-m", "engine", *args, env=env, cwd=cwd, timeout=timeout)


def run_python(
    *args: str | Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`python ARGS...` (this interpreter) with a clean environment plus `env`."""
    proc = subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=cwd or REPO_ROOT,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
