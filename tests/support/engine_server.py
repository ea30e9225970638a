"""A warm interpreter that runs `python -m engine` in a fork of itself, for the tests.

Started by `tests.support.engine_run` (`run_cli`, `run_script`), one per test process.
It imports the engine once; for each request (one JSON line on stdin: the arguments or
a script, the whole environment, the working directory and a time limit) it forks a
child that takes that environment and directory, points stdin at /dev/null and stdout
and stderr at files, and runs the `engine` package as `python -m engine` runs it (or
the script as `python SCRIPT` does), ending as an interpreter ends. The reply (one JSON line
on stdout) is the child's exit status and both outputs. The child is a process of its
own, as a subprocess would be: nothing it changes reaches this interpreter or the
tests, and its sandbox is forked from a small process. Only the interpreter's start
and the engine's imports are saved.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import sys
import tempfile
from typing import Any

# Imported once here, besides every module of the engine, its builtins and the workflow
# API; importing none of them starts a thread.
_PRELOAD = ("starlark", "requests", "tomllib", "json", "subprocess", "resource", "gc")


def _preload() -> None:
    """Import what runs import sooner or later (in the engine's process or in its
    sandbox), so that no child imports it again."""
    import importlib
    import pkgutil

    import engine
    import pipeline_builtins
    import workflow

    names = list(_PRELOAD)
    for package in (engine, pipeline_builtins, workflow):
        names += [info.name for info in pkgutil.walk_packages(package.__path__,
                                                             package.__name__ + ".")
                  if not info.name.endswith("__main__")]
    for name in names:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _child(request: dict[str, Any], out_path: str, err_path: str) -> None:
    """In the fork: become the process `python -m engine ARGS` (or `python SCRIPT ARGS`)
    would be, run it, end as its interpreter would, and never return."""
    import atexit

    code = 70
    try:
        atexit._clear()  # this interpreter's exit handlers are not the run's
        os.setpgid(0, 0)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for fd, path in ((1, out_path), (2, err_path)):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        sys.stdin = open(os.devnull)  # noqa: SIM115 - the process ends with os._exit
        code = _run(request.get("script"), request["args"])
        _shut_down()
    finally:
        os._exit(code)


def _run(script: str | None, args: list[str]) -> int:
    """Run the engine's `__main__` (or a script) as the main module; its exit code."""
    import runpy

    try:
        if script is None:
            sys.argv = [os.path.join(os.path.dirname(sys.modules["engine"].__file__ or ""),
                                     "__main__.py"), *args]
            runpy.run_module("engine", run_name="__main__", alter_sys=True)
        else:
            sys.argv = [script, *args]
            sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
            runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return 1
    except BaseException as error:
        # The traceback an interpreter would print: from the main module down.
        trace = error.__traceback__
        while trace is not None and trace.tb_frame.f_code.co_filename in (__file__,
                                                                         "<frozen runpy>"):
            trace = trace.tb_next
        sys.excepthook(type(error), error.with_traceback(trace), trace)
        return 1
    return 0


def _shut_down() -> None:
    """What an interpreter does at exit: wait for its non-daemon threads, run the exit
    handlers, flush its output."""
    import atexit
    import threading

    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _wait(pid: int, timeout: float) -> int | None:
    """The child's status as subprocess reports it (-N: killed by signal N); None when it
    outlived `timeout` (it is killed, with everything it started)."""
    handle = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([handle], [], [], timeout)
    finally:
        os.close(handle)
    if not ready:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return None
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def serve(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request in a child; its reply."""
    import shutil

    tmp = tempfile.mkdtemp(prefix="engine-run-")
    try:
        out_path, err_path = os.path.join(tmp, "stdout"), os.path.join(tmp, "stderr")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            _child(request, out_path, err_path)
        status = _wait(pid, request["timeout"])
        outputs = []
        for path in (out_path, err_path):
            try:
                with open(path, "rb") as handle:
                    outputs.append(handle.read().decode("utf-8", "surrogateescape"))
            except FileNotFoundError:  # the child died before it opened its outputs
                outputs.append("")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"code": status, "stdout": outputs[0], "stderr": outputs[1]}


def main() -> None:
    """Answer requests until stdin closes."""
    _preload()
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # a stray print must not garble the replies
    for line in sys.stdin:
        reply = serve(json.loads(line))
        channel.write(json.dumps(reply) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
