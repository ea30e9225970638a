"""Benchmarks: start-up cost of `python -m engine`, and 1,000- and 10,000-job pipelines.

Run as `python -m tests.bench.run_bench`. Prints a table; asserts nothing. The 10,000-job
case exceeds the CLI's job cap, so it runs through a small in-process driver (this module
with `driver` as its first argument) in a subprocess, with `Limits(max_jobs=20000)`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bench.launcher import Run, compile_bytecode, launch
from tests.bench.table import print_table
from tests.support.engine_run import clean_env

STARTUP_RUNS = 30
SCALE_RUNS = 10
ENV = clean_env(REACTORCIDE_BRANCH="main", REACTORCIDE_SHA="c" * 40,
                REACTORCIDE_GIT_REF="refs/heads/main", REACTORCIDE_JOB_ID="bench")

SIX_JOBS = """\
trigger_job("lint")
trigger_job("unit", env = {"SUITE": "unit"})
trigger_job("integration", env = {"SUITE": "integration"}, timeout = 1800)
trigger_job("build", depends_on = ["lint", "unit"])
trigger_job("package", depends_on = ["build"], priority = 5)
trigger_job("report", depends_on = ["integration", "package"], condition = "always")
"""


def matrix_pipeline(oses: int, arches: int, pythons: int, shards: int) -> str:
    """A build per (os, arch) and a test per (os, arch, python, shard), in nested loops."""
    return f"""\
OSES = ["os%d" % i for i in range({oses})]
ARCHES = ["arch%d" % i for i in range({arches})]
PYTHONS = ["3.%d" % i for i in range({pythons})]

for os in OSES:
    for arch in ARCHES:
        build = trigger_job("build-%s-%s" % (os, arch), env = {{"OS": os, "ARCH": arch}})
        for py in PYTHONS:
            for shard in range({shards}):
                trigger_job(
                    "test-%s-%s-py%s-%d" % (os, arch, py, shard),
                    depends_on = [build],
                    env = {{"OS": os, "ARCH": arch, "PYTHON": py, "SHARD": str(shard)}},
                    timeout = 1200,
                )
"""


def timed(args: list[str]) -> Run:
    """Run a command to completion through the launcher (its own peak RSS, not ours)."""
    return launch(args, ENV)


def engine_cmd(src: Path, triggers: Path) -> list[str]:
    """`python -m engine` on a source directory."""
    return [sys.executable, "-m", "engine", "--src", str(src), "--triggers-file", str(triggers)]


def driver_cmd(src: Path, triggers: Path, max_jobs: int) -> list[str]:
    """This module in driver mode."""
    return [sys.executable, "-m", "tests.bench.run_bench", "driver", str(src), str(triggers),
            str(max_jobs)]


def repeat(args: list[str], runs: int, triggers: Path | None) -> list[Run]:
    """`runs` timed runs after one warm-up; the triggers file is removed after each."""
    results = []
    for index in range(runs + 1):
        run = timed(args)
        if run.code != 0:
            raise SystemExit(f"benchmark command failed ({run.code}): {' '.join(args)}")
        if triggers is not None:
            triggers.unlink(missing_ok=True)
        if index:
            results.append(run)
    return results


def make_src(root: Path, name: str, text: str) -> Path:
    """A source directory with `pipeline.star`."""
    src = root / name
    src.mkdir()
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    return src


def median(values: list[float]) -> float:
    """`statistics.median` of a non-empty list."""
    return float(statistics.median(values))


def main() -> None:
    """Run the three benchmarks and print the table."""
    compile_bytecode()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as tmp:
        root = Path(tmp)
        triggers = root / "triggers.json"

        small = make_src(root, "six", SIX_JOBS)
        # Alternate the two commands so that drift in the machine's load hits both alike.
        engine_runs: list[Run] = []
        bare_runs: list[Run] = []
        for _ in range(STARTUP_RUNS):
            engine_runs += repeat(engine_cmd(small, triggers), 1, triggers)
            bare_runs += repeat([sys.executable, "-c", "pass"], 1, None)
        engine_ms = 1000 * median([r.seconds for r in engine_runs])
        bare_ms = 1000 * median([r.seconds for r in bare_runs])
        rows.append((f"python -c pass (median of {STARTUP_RUNS})", f"{bare_ms:8.1f} ms",
                     f"{max(r.max_rss_mb for r in bare_runs):7.1f} MB", ""))
        rows.append((f"python -m engine, 6 jobs (median of {STARTUP_RUNS})",
                     f"{engine_ms:8.1f} ms",
                     f"{max(r.max_rss_mb for r in engine_runs):7.1f} MB",
                     f"{engine_ms / bare_ms:.1f}x python -c pass"))

        big = make_src(root, "ten-thousand", matrix_pipeline(10, 10, 9, 11))
        driver_runs = repeat(driver_cmd(big, triggers, 20000), SCALE_RUNS, triggers)
        reports = [json.loads(r.stdout) for r in driver_runs]
        rows.append((f"10,000 jobs, in-process driver (median of {SCALE_RUNS})",
                     f"{1000 * median([r.seconds for r in driver_runs]):8.1f} ms",
                     f"{max(r.max_rss_mb for r in driver_runs):7.1f} MB",
                     f"driver {max(p['driver_rss_mb'] for p in reports):.1f} MB, "
                     f"sandbox {max(p['sandbox_peak_mb'] for p in reports):.1f} MB, "
                     f"eval {1000 * median([p['eval_seconds'] for p in reports]):.0f} ms, "
                     f"{reports[0]['jobs']} jobs, {reports[0]['bytes']} bytes"))

        mid = make_src(root, "one-thousand", matrix_pipeline(10, 10, 3, 3))
        cli_runs = repeat(engine_cmd(mid, triggers), SCALE_RUNS, triggers)
        rows.append((f"1,000 jobs, python -m engine (median of {SCALE_RUNS})",
                     f"{1000 * median([r.seconds for r in cli_runs]):8.1f} ms",
                     f"{max(r.max_rss_mb for r in cli_runs):7.1f} MB",
                     "peak RSS of the CLI and its sandbox, from the launcher"))

    print_table(rows, ("benchmark", "wall", "max RSS", "notes"))


def driver(src: str, triggers: str, max_jobs: int) -> None:
    """Ingest one pipeline in this process with a raised job cap; print usage as JSON."""
    from engine.core.limits import Limits
    from engine.run.ingest import RunOptions, run
    from engine.run.inputs import snapshot

    inputs = snapshot(src=src, pipeline=None, triggers_file=triggers, env=os.environ,
                      token=None)
    outcome = run(inputs, RunOptions(limits=Limits(max_jobs=max_jobs)))
    print(json.dumps({
        "jobs": len(outcome.jobs),
        "bytes": len(outcome.document or b""),
        "eval_seconds": outcome.usage.measured.wall_seconds,
        "sandbox_peak_mb": outcome.usage.measured.peak_memory_mb,
        "driver_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    if sys.argv[1:2] == ["driver"]:
        driver(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
