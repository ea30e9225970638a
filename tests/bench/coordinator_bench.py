"""Benchmark: what a pipeline asking the coordinator about 50 job names costs.

Run as `python -m tests.bench.coordinator_bench`. Starts the HTTPS fake coordinator on
127.0.0.1 holding this ingest job and a few hundred others, then times
`python -m engine ingest` on two pipelines of the same shape: one that asks
`is_job_running` and `get_job_result` about 50 names (twice over), and one that asks
nothing. Prints the HTTP requests each run made and the added wall time (medians).
A second part times `HttpJobState` alone, in this process. Asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.bench.launcher import compile_bytecode, launch
from tests.bench.table import print_table
from tests.support.coordinator_server import DEFAULT_TOKEN, FakeCoordinator
from tests.support.engine_run import clean_env
from tests.support.tls import make_self_signed_cert

RUNS = 9
NAMES = 50
HISTORY = 1000
JOB_ID = "bench-ingest"
STATUSES = ("submitted", "queued", "running", "cancelling",
            "completed", "failed", "cancelled", "timeout")

ASKING = f"""\
names = ["job-%d" % n for n in range({NAMES})]
for name in names:
    if not is_job_running(name):
        r = get_job_result(name)
        if r == None or r["exit_code"] != 0:
            trigger_job(name)
for name in names:
    is_job_running(name)
    get_job_result(name)
trigger_job("report")
"""

BASELINE = f"""\
names = ["job-%d" % n for n in range({NAMES})]
for name in names:
    if name != "":
        r = None
        if r == None:
            trigger_job(name)
for name in names:
    len(name)
trigger_job("report")
"""


def populate(server: FakeCoordinator) -> None:
    """This job, the 50 asked-about names in every status, and unrelated history."""
    server.add_job("ingest", "running", job_id=JOB_ID)
    for number in range(NAMES):
        status = STATUSES[number % len(STATUSES)]
        server.add_job(f"job-{number}", status, exit_code=number % 2,
                       completed_at="2025-01-01T00:00:00Z")
    for number in range(HISTORY):  # a long finished history: several pages per status
        server.add_job(f"old-{number}", STATUSES[4 + number % 4], exit_code=0,
                       completed_at="2024-12-01T00:00:00Z")


def run_once(src: Path, triggers: Path, env: dict[str, str]) -> float:
    """One `python -m engine ingest`, from the launcher; its wall seconds."""
    run = launch([sys.executable, "-m", "engine", "ingest", "--src", str(src),
                  "--triggers-file", str(triggers)], env)
    if run.code != 0:
        raise SystemExit(f"engine failed ({run.code}):\n{run.stderr}")
    triggers.unlink(missing_ok=True)
    return run.seconds


def in_process(server: FakeCoordinator) -> tuple[float, float, int]:
    """HttpJobState alone: (first answer, all 200 answers) in seconds, requests sent."""
    from engine.capabilities.coordinator.http import HttpJobState

    start = time.perf_counter()
    state = HttpJobState(server.url, server.token, job_id=JOB_ID)
    state.is_job_running("job-0")
    first = time.perf_counter() - start
    for _ in range(2):
        for number in range(NAMES):
            state.is_job_running(f"job-{number}")
            state.get_job_result(f"job-{number}")
    total = time.perf_counter() - start
    state.close()
    return first, total, state.requests_sent


def main() -> None:
    """Measure and print the table."""
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="coordinator-bench-") as tmp:
        root = Path(tmp)
        cert, key = make_self_signed_cert(root / "tls")
        os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
        with FakeCoordinator(DEFAULT_TOKEN, tls=(cert, key)) as server:
            populate(server)
            env = clean_env(
                REACTORCIDE_COORDINATOR_URL=server.url,
                REACTORCIDE_API_TOKEN=server.token,
                REACTORCIDE_JOB_ID=JOB_ID,
                REACTORCIDE_BRANCH="main",
                REACTORCIDE_SHA="c" * 40,
                REQUESTS_CA_BUNDLE=str(cert),
                NO_PROXY="127.0.0.1",
            )
            sources = {}
            for name, text in (("asking", ASKING), ("baseline", BASELINE)):
                sources[name] = root / name
                sources[name].mkdir()
                (sources[name] / "pipeline.star").write_text(text, encoding="utf-8")
            triggers = root / "triggers.json"

            run_once(sources["asking"], triggers, env)  # warm-up (bytecode, page cache)
            run_once(sources["baseline"], triggers, env)
            asking: list[float] = []
            baseline: list[float] = []
            requests_per_run: list[int] = []
            paths: Counter[str] = Counter()
            for _ in range(RUNS):  # alternated, so that load drift hits both alike
                before = len(server.requests)
                asking.append(run_once(sources["asking"], triggers, env))
                made = server.requests[before:]
                requests_per_run.append(len(made))
                paths.update(r.path if r.path == "/api/v1/jobs" else "GET /api/v1/jobs/{id}"
                             for r in made)
                baseline.append(run_once(sources["baseline"], triggers, env))

            before = len(server.requests)
            first, total, sent = in_process(server)
            assert sent == len(server.requests) - before

    identical = len(set(requests_per_run)) == 1
    listing = paths["/api/v1/jobs"] // RUNS
    lookups = paths["GET /api/v1/jobs/{id}"] // RUNS
    asking_ms = 1000 * statistics.median(asking)
    baseline_ms = 1000 * statistics.median(baseline)
    print(f"{2 * NAMES} is_job_running and {2 * NAMES} get_job_result calls about {NAMES} "
          f"names; {NAMES + HISTORY + 1} jobs on a local HTTPS coordinator\n")
    rows = [
        ("HTTP requests per run", f"{statistics.median(requests_per_run):.0f}",
         f"{listing} listing pages + {lookups} project lookup"
         + (", identical every run" if identical else "")),
        (f"python -m engine ingest, asking (median of {RUNS})", f"{asking_ms:.1f} ms", ""),
        (f"python -m engine ingest, baseline (median of {RUNS})", f"{baseline_ms:.1f} ms",
         "same shape, no coordinator calls"),
        ("added wall time", f"{asking_ms - baseline_ms:.1f} ms",
         "requests import, TLS handshake, listing, pipe round trips"),
        ("HttpJobState in process: first answer", f"{1000 * first:.1f} ms",
         "session, TLS handshake, project lookup, running-set listing"),
        ("HttpJobState in process: all 200 answers", f"{1000 * total:.1f} ms",
         f"{sent} requests"),
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
