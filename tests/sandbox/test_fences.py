"""The operating-system fences around the sandboxed child, observed from outside it.

A pipeline busy in a loop keeps the child alive while the test reads its /proc entries;
the policy's wall clock then ends the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.engine_run import REPO_ROOT, clean_env

MARKER = "tok-FENCE-5e1"

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _file_size_limit(limits: str) -> list[str]:
    line = next(line for line in limits.splitlines() if line.startswith("Max file size"))
    return line.split()[3:5]


def _memory_holds(pid: int, needle: bytes) -> str:
    """"yes" or "no": whether the process's writable memory holds `needle`; "unknown"
    when it cannot be read (a child that is not dumpable needs root to be read)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    except OSError:
        return "unknown"
    try:
        for line in maps:
            fields = line.split()
            if fields[1][:2] != "rw":
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                if needle in os.pread(fd, end - start, start):
                    return "yes"
            except OSError:
                continue
    finally:
        os.close(fd)
    return "no"


def _observe_child(tmp_path: Path) -> dict[str, str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(
        "for i in range(100000):\n    for j in range(100000):\n        pass\n", encoding="utf-8")
    policy = tmp_path / "p.toml"
    policy.write_text("[limits]\nwall_seconds = 3\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "--src", str(src), "--policy", str(policy),
         "--triggers-file", str(tmp_path / "t.json")],
        cwd=REPO_ROOT, env=clean_env(REACTORCIDE_API_TOKEN=MARKER),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not seen:
            for child in _children(proc.pid):
                base = Path(f"/proc/{child}")
                try:
                    seen = {
                        "environ": (base / "environ").read_bytes().decode("latin-1"),
                        "net": os.readlink(base / "ns" / "net"),
                        "limits": (base / "limits").read_text(),
                        "status": (base / "status").read_text(),
                        "fds": " ".join(os.listdir(base / "fd")),
                    }
                except OSError:
                    seen = {}
                if seen and _file_size_limit(seen["limits"]) != ["0", "0"]:
                    seen = {}  # still warming up: not yet fenced
                if seen:
                    time.sleep(0.2)  # running pipeline code by now
                    seen["memory"] = _memory_holds(child, MARKER.encode())
            time.sleep(0.05)
    finally:
        _, err = proc.communicate(timeout=30)
    seen["stderr"] = err
    seen["code"] = str(proc.returncode)
    return seen


@pytest.fixture(scope="module")
def fenced(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What /proc shows of a running sandboxed child."""
    return _observe_child(tmp_path_factory.mktemp("fence"))


def test_the_run_ends_on_the_wall_clock(fenced: dict[str, str]) -> None:
    assert fenced["code"] == "1"
    assert "wall-clock limit of 3 s exceeded" in fenced["stderr"]


def test_the_childs_environment_holds_no_token(fenced: dict[str, str]) -> None:
    assert "environ" in fenced, "the sandboxed child was never observed"
    assert MARKER not in fenced["environ"]
    assert "REACTORCIDE_API_TOKEN" not in fenced["environ"]
    assert MARKER not in fenced["stderr"]


def test_the_childs_memory_holds_no_token(fenced: dict[str, str]) -> None:
    if fenced.get("memory") == "unknown":
        pytest.skip("the child's memory cannot be read by this user")
    assert fenced["memory"] == "no"


def test_the_child_is_in_its_own_network_namespace(fenced: dict[str, str]) -> None:
    assert fenced["net"] != os.readlink("/proc/self/ns/net")


def test_the_child_may_not_write_files(fenced: dict[str, str]) -> None:
    assert _file_size_limit(fenced["limits"]) == ["0", "0"]
    files = next(line for line in fenced["limits"].splitlines()
                 if line.startswith("Max open files"))
    assert int(files.split()[3]) <= 16


def test_the_child_gains_no_privileges_and_keeps_few_descriptors(
    fenced: dict[str, str],
) -> None:
    assert "NoNewPrivs:\t1" in fenced["status"]
    assert len(fenced["fds"].split()) <= 6
