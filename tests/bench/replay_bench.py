"""Benchmark: what checking a library of real transcripts costs.

Run as `python -m tests.bench.replay_bench`. Records a transcript of every example case
in tests/examples/cases (a real repository each, built from its `[repository]` table, the
HTTPS fake coordinator where the case has one, `ingest --record`), then times
`python -m engine replay --check` on each transcript, and one `python -m engine test`
over all of them. Prints a table; asserts nothing but that every replay matches.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from engine.pipeline_tests.repository import Repositories
from tests.bench.launcher import Run, compile_bytecode, launch
from tests.bench.table import print_table
from tests.support.coordinator_server import DEFAULT_TOKEN, FakeCoordinator
from tests.support.engine_run import clean_env, run_engine
from tests.support.example_cases import CASE_FILES, checkout, load, serve
from tests.support.tls import make_self_signed_cert

RUNS = 5


def record_all(root: Path, cert: Path, key: Path) -> list[Path]:
    """One transcript per example case, gathered in root/transcripts."""
    gathered = root / "transcripts"
    gathered.mkdir()
    out: list[Path] = []
    repositories = Repositories()
    try:
        for path in CASE_FILES:
            case = load(path)
            target = gathered / f"{path.stem}.transcript.json"
            args = ("ingest", "--no-submit", "--src", checkout(repositories, case),
                    "--pipeline", case.pipeline, "--triggers-file",
                    root / f"{path.stem}.triggers.json", "--record", target)
            if case.coordinator is None:
                result = run_engine(*args, env=case.env)
            else:
                with FakeCoordinator(DEFAULT_TOKEN, tls=(cert, key)) as server:
                    result = run_engine(*args, env={**case.env, **serve(server, case, cert)})
            if not target.exists():
                raise SystemExit(f"{path.stem}: no transcript\n{result.output}")
            out.append(target)
    finally:
        repositories.close()
    return out


def timed(*args: str | Path) -> Run:
    """One `python -m engine ARGS...`, from the launcher."""
    return launch([sys.executable, "-m", "engine", *map(str, args)], clean_env())


def main() -> None:
    """Record, measure and print the table."""
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        root = Path(tmp)
        cert, key = make_self_signed_cert(root / "tls")
        os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
        start = time.perf_counter()
        transcripts = record_all(root, cert, key)
        recording = time.perf_counter() - start
        size = sum(path.stat().st_size for path in transcripts)

        timed("replay", "--check", transcripts[0])  # warm-up (bytecode, page cache)
        totals: list[float] = []
        each: list[float] = []
        for _ in range(RUNS):
            total = 0.0
            for path in transcripts:
                run = timed("replay", "--check", path)
                if run.code != 0:
                    raise SystemExit(f"{path.name} drifted:\n{run.stdout}{run.stderr}")
                each.append(run.seconds)
                total += run.seconds
            totals.append(total)
        together: list[float] = []
        for _ in range(RUNS):
            run = timed("test", root / "transcripts")
            if run.code != 0:
                raise SystemExit(f"engine test failed:\n{run.stdout}{run.stderr}")
            together.append(run.seconds)

    count = len(transcripts)
    rows = [
        ("example transcripts", f"{count}",
         f"{size / 1024:.0f} KiB in all, recorded in {recording:.1f} s"),
        (f"replay --check, one process each (median of {RUNS} rounds)",
         f"{1000 * statistics.median(totals):.0f} ms", f"all {count} transcripts"),
        ("replay --check of one transcript (median)", f"{1000 * statistics.median(each):.1f} ms",
         f"min {1000 * min(each):.1f}, max {1000 * max(each):.1f}"),
        (f"engine test over the directory (median of {RUNS})",
         f"{1000 * statistics.median(together):.0f} ms", "one process, a sandbox per transcript"),
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
