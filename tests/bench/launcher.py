"""How every benchmark runs a command: through a small separate launcher process, with
the engine's bytecode compiled first.

A process's peak RSS (`ru_maxrss`) starts at its parent's at fork time, so a command
forked from the benchmark process itself would report the benchmark's memory as its own
(a 300 MB benchmark makes `python -c pass` look like 313 MB). Commands are therefore
forked from a launcher (`python -S`, a few MB), which reports the child's wall time, exit
code and peak RSS, and on request the peak of the whole process tree at once (a run is
the engine and its sandbox; their own peaks do not come at the same moment).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Forks before importing anything beyond os, sys and time, so that the child inherits
# as little as possible.
_LAUNCHER = """\
import os, sys, time
tree = sys.argv[1] == "--tree"
if tree:
    del sys.argv[1]
out_r, out_w = os.pipe()
err_r, err_w = os.pipe()
null = os.open(os.devnull, os.O_RDONLY)
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(null, 0); os.dup2(out_w, 1); os.dup2(err_w, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
os.close(out_w); os.close(err_w)
import json, threading
def drain(fd):
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks).decode("utf-8", "replace")
        chunks.append(chunk)
def family(root):
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    todo.extend(int(p) for p in f.read().split())
        except OSError:
            pass
    return found
def pss_kb(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0
peak = [0]
done = threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], sum(pss_kb(p) for p in family(pid)))
        done.wait(0.002)
sampler = threading.Thread(target=sample)
if tree:
    sampler.start()
errors = []
reader = threading.Thread(target=lambda: errors.append(drain(err_r)))
reader.start()
stdout = drain(out_r)
reader.join()
done.set()
if tree:
    sampler.join()
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "code": os.waitstatus_to_exitcode(status),
                  "max_rss_kb": usage.ru_maxrss, "tree_pss_kb": peak[0], "stdout": stdout,
                  "stderr": errors[0]}))
"""


@dataclass(frozen=True)
class Run:
    """One command run by the launcher: wall seconds, exit code, peak RSS, its output."""

    seconds: float
    code: int
    max_rss_mb: float
    stdout: str
    stderr: str = ""
    tree_mb: float = 0.0


def launch(args: list[str], env: dict[str, str], cwd: Path = REPO_ROOT, *,
           tree: bool = False) -> Run:
    """Run `args` from the launcher and report what it measured. With `tree`, also the
    peak memory of the command and everything it started at once: the sum of their
    proportional set sizes (shared pages counted once), sampled every 2 ms."""
    flag = ["--tree"] if tree else []
    proc = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, *flag, *args], cwd=cwd,
                          env=env, capture_output=True, text=True, check=True)
    report = json.loads(proc.stdout)
    return Run(float(report["seconds"]), int(report["code"]), report["max_rss_kb"] / 1024.0,
               report["stdout"], report["stderr"], report["tree_pss_kb"] / 1024.0)


def compile_bytecode() -> None:
    """Write .pyc files for everything a benchmark imports from this checkout, as an
    installed package has them: the engine, the builtins and the benchmark helpers.

    Done before every benchmark, whatever PYTHONDONTWRITEBYTECODE says: with it set, no
    run would ever write them, and each would compile the engine's sources again.
    """
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO_ROOT / "engine"),
         str(REPO_ROOT / "builtins"), str(REPO_ROOT / "tests" / "bench"),
         str(REPO_ROOT / "tests" / "support")],
        check=True,
    )
