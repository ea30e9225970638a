"""Benchmark: the speed figures side by side with their floors, and how they grow.

Run as `python -m tests.bench.speed_bench [--quick] [--pairs N]`. Prints, from one run:

- P1: `python -m engine` on a 6-job pipeline without git against `python -c pass`, in
  this virtualenv (an editable install) and in a plain, non-editable install of this
  checkout (a virtualenv under the system temp dir, made again on every run);
- P2: `changed_files()` and 20 `changes_include(..., from_ref=, to_ref=)` on a
  100,000-file repository with 10,000 changed files, against
  `git diff --name-only -z --no-renames` plus `python -c pass`;
- P3: a 10,000-job generated matrix: wall time and peak memory;
- growth: jobs at 1k / 10k / 40k, changed files at 1k / 10k / 100k, pipeline source at
  1k / 10k lines, `load()` of 1 / 10 / 100 files, each with its time per unit.

Commands whose ratio is reported run alternately (A, B, A, B, ...) so that the machine's
changing load hits both alike; each figure is a median, and the load average is printed.
The repository is built once with `git fast-import` into a cache directory under the
system temp dir. Asserts nothing.
"""

from __future__ import annotations

import os
import sys


def driver(src: str, triggers: str, max_jobs: int) -> None:
    """Ingest one pipeline in this process with the job cap (the CLI's is 1,000), the output
    cap and the time limits raised, so that the growth series fit; print what the run
    used as JSON. Imports only what a CLI run would."""
    import gc
    import json
    import resource

    gc.disable()  # as `python -m engine` runs (engine.cli.main)
    from engine.core.limits import Limits
    from engine.run.ingest import RunOptions, run
    from engine.run.inputs import snapshot

    inputs = snapshot(src=src, pipeline=None, triggers_file=triggers, env=os.environ,
                      token=None)
    outcome = run(inputs, RunOptions(limits=Limits(
        max_jobs=max_jobs, max_output_bytes=64 << 20, wall_seconds=120, cpu_seconds=120)))
    print(json.dumps({
        "jobs": len(outcome.jobs),
        "bytes": len(outcome.document or b""),
        "sandbox_peak_mb": outcome.usage.measured.peak_memory_mb,
        "driver_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__" and sys.argv[1:2] == ["driver"]:
    driver(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    raise SystemExit(0)

# ruff: noqa: E402  (the driver above runs before these imports on purpose)
import argparse
import json
import statistics
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

from tests.bench.launcher import REPO_ROOT, Run, compile_bytecode, launch
from tests.bench.run_bench import ENV, SIX_JOBS, matrix_pipeline
from tests.bench.table import print_table
from tests.support.gitrepo import git_env

CACHE = Path(tempfile.gettempdir()) / "engine-speed-bench-cache"
BASE_FILES = 100_000
CHANGED = (1_000, 10_000, 100_000)
GLOBS = (
    "**/*.py", "**/*.go", "docs/**", "**/*.md", "src/**/*.ts", "**/*.rs", ".github/**",
    "pkg/d07/**", "**/test_*.py", "*.toml", "pkg/*/s3/*.json", "**/*.never", "README*",
    "pkg/d9?/**", "**/[ab]*.css", "**/*.yml", "web/**/*.tsx", "pkg/d00/s0/f0000000.py",
    "**/*.lock", "vendor/**",
)
EXTENSIONS = (".py", ".js", ".ts", ".go", ".md", ".txt", ".json", ".yml", ".css", ".sh")


def git_pipeline(to_ref: str) -> str:
    """changed_files() and 20 changes_include with explicit refs, as a pipeline says it."""
    return f"""\
files = changed_files(from_ref = "base", to_ref = "{to_ref}")
GLOBS = {list(GLOBS)!r}
hits = [g for g in GLOBS if changes_include(g, from_ref = "base", to_ref = "{to_ref}")]
trigger_job("report", env = {{"FILES": str(len(files)), "HITS": str(len(hits))}})
"""


def source_lines(lines: int) -> str:
    """A pipeline of `lines` lines: constants, a function over them, and one job."""
    out = ["def pick(values, n):", "    return [v for v in values if len(v) > n]", ""]
    for index in range(lines - 5):
        out.append(f'VALUE_{index} = ["v{index}", "w{index}", "{"x" * (index % 7)}"]')
    out.append("ALL = pick(VALUE_0 + VALUE_1, 1)")
    out.append('trigger_job("report", env = {"N": str(len(ALL))})')
    return "\n".join(out) + "\n"


def with_loads(root: Path, files: int) -> Path:
    """A source directory whose pipeline loads `files` .star files."""
    src = root / f"loads-{files}"
    (src / "lib").mkdir(parents=True)
    names = []
    for index in range(files):
        (src / "lib" / f"m{index}.star").write_text(
            f'def env_{index}():\n    return {{"M{index}": "{index}"}}\n'
            f'NAME_{index} = "job-{index}"\n', encoding="utf-8")
        names.append(f'load("lib/m{index}.star", "env_{index}", "NAME_{index}")')
    jobs = [f"trigger_job(NAME_{i}, env = env_{i}())" for i in range(files)]
    (src / "pipeline.star").write_text("\n".join([*names, *jobs]) + "\n", encoding="utf-8")
    return src


# -- the repository ---------------------------------------------------------------------

def _path(number: int) -> bytes:
    return (f"pkg/d{number // 1000 % 100:02d}/s{number // 100 % 10}/"
            f"f{number:07d}{EXTENSIONS[number % len(EXTENSIONS)]}").encode()


def _stream() -> bytes:
    """`base` with BASE_FILES files; one branch per size in CHANGED, each changing that
    many files of `base` (a tenth of them deleted, the rest modified)."""
    out: list[bytes] = []
    for number in range(BASE_FILES):
        data = b"file %d\n" % number
        out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (number + 1, len(data), data))
    base = BASE_FILES + 1
    out.append(b"commit refs/heads/base\nmark :%d\n"
               b"committer Bench <bench@example.com> 1700000000 +0000\ndata 4\nbase\n"
               % base)
    out.extend(b"M 100644 :%d %s\n" % (n + 1, _path(n)) for n in range(BASE_FILES))
    out.append(b"\n")
    for size in CHANGED:
        out.append(b"commit refs/heads/changed-%d\n"
                   b"committer Bench <bench@example.com> 1700000060 +0000\ndata 7\nchanges\n"
                   b"from :%d\n" % (size, base))
        step = BASE_FILES // size
        for index in range(size):
            number = index * step
            if index % 10 == 9:
                out.append(b"D %s\n" % _path(number))
            else:
                data = b"file %d, changed for %d\n" % (number, size)
                out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (_path(number), len(data),
                                                                    data))
        out.append(b"\n")
    return b"".join(out)


def repository() -> Path:
    """The benchmark repository, built on first use and kept in CACHE."""
    repo = CACHE / "repo-v1"
    if (repo / ".git" / "bench-complete").exists():
        return repo
    subprocess.run(["rm", "-rf", str(repo)], check=True)
    repo.mkdir(parents=True)
    env = git_env(CACHE)
    subprocess.run(["git", "init", "--quiet", "--initial-branch=base", str(repo)],
                   check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet"], input=_stream(), cwd=repo, check=True,
                   env=env)
    (repo / ".git" / "bench-complete").write_text("", encoding="utf-8")
    return repo


# -- a plain (non-editable) install -----------------------------------------------------

def plain_install() -> Path:
    """A virtualenv with this checkout's packages laid out in site-packages as a wheel
    installs them (no editable finder, no path entry for the checkout); the dependencies
    come from this virtualenv's site-packages through a path entry."""
    import shutil

    venv = CACHE / "plain-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    for package, source in (("engine", "engine"),
                            ("pipeline_builtins", "builtins/pipeline_builtins"),
                            ("workflow", "builtins/workflow")):
        shutil.rmtree(site / package, ignore_errors=True)
        shutil.copytree(REPO_ROOT / source, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    Path(site, "bench-dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    subprocess.run([str(python), "-m", "compileall", "-q", str(site / "engine"),
                    str(site / "pipeline_builtins"), str(site / "workflow")], check=True)
    return python


# -- running and reporting --------------------------------------------------------------

def paired(commands: dict[str, list[str]], pairs: int, cleanup: Path | None = None,
           cwd: Path = REPO_ROOT, *, tree: bool = False) -> dict[str, list[Run]]:
    """Each command once per round, alternating, after one warm-up round (`tree`: with
    the peak memory of each command's whole process tree)."""
    results: dict[str, list[Run]] = {name: [] for name in commands}
    for index in range(pairs + 1):
        for name, args in commands.items():
            run = launch(args, ENV, cwd, tree=tree)
            if run.code != 0:
                raise SystemExit(f"benchmark command failed ({run.code}): {' '.join(args)}\n"
                                 f"{run.stderr}")
            if cleanup is not None:
                cleanup.unlink(missing_ok=True)
            if index:
                results[name].append(run)
    return results


def ms(runs: list[Run]) -> float:
    """Median wall time in milliseconds."""
    return 1000 * float(statistics.median(r.seconds for r in runs))


def peak(runs: list[Run]) -> float:
    """Largest peak RSS of the runs, MB."""
    return max(r.max_rss_mb for r in runs)


def engine(python: Path | str, src: Path, triggers: Path, pipeline: Path | None = None
           ) -> list[str]:
    """`python -m engine` on a source directory (and a pipeline file)."""
    extra = ["--pipeline", str(pipeline)] if pipeline else []
    return [str(python), "-m", "engine", "--src", str(src), *extra, "--triggers-file",
            str(triggers)]


def drive(src: Path, triggers: Path, max_jobs: int = 50_000) -> list[str]:
    """This module's in-process driver (job cap raised) on a source directory."""
    return [sys.executable, "-m", "tests.bench.speed_bench", "driver", str(src),
            str(triggers), str(max_jobs)]


def growth_rows(label: str, sizes: tuple[int, ...], runs: dict[int, list[Run]],
                unit: str) -> list[tuple[str, str, str, str]]:
    """One row per size; from the second on, the cost of each added unit since the size
    before (equal slopes mean linear growth; the fixed start-up cancels out)."""
    rows = []
    slopes: list[float] = []
    for index, size in enumerate(sizes):
        note = ""
        if index:
            before = sizes[index - 1]
            slopes.append((ms(runs[size]) - ms(runs[before])) / (size - before))
            note = (f"+{1000 * slopes[-1]:.2f} us per added {unit}"
                    + (f" ({slopes[-1] / slopes[0]:.2f}x the first slope)" if index > 1
                       else ""))
        rows.append((f"{label} {size:,}", f"{ms(runs[size]):9.1f} ms",
                     f"{peak(runs[size]):7.1f} MB", note))
    return rows


def main() -> None:
    """Build what is needed, time every figure, print one table."""
    parser = argparse.ArgumentParser(prog="python -m tests.bench.speed_bench")
    parser.add_argument("--quick", action="store_true",
                        help="11 pairs for the ratios, 3 runs for the growth sizes")
    parser.add_argument("--pairs", type=int, help="pairs for each ratio (default 21)")
    options = parser.parse_args()
    pairs = options.pairs or (11 if options.quick else 21)
    growth_runs = 3 if options.quick else 5
    compile_bytecode()
    CACHE.mkdir(exist_ok=True)
    started = time.perf_counter()
    repo = repository()
    plain = plain_install()
    prepared = time.perf_counter() - started
    rows: list[tuple[str, str, str, str]] = []
    loads: list[float] = []

    def section(title: str) -> None:
        loads.append(os.getloadavg()[0])
        rows.append((f"[{title}]", "", "", f"load average {loads[-1]:.1f}"))

    with tempfile.TemporaryDirectory(prefix="engine-speed-bench-") as tmp:
        root = Path(tmp)
        triggers = root / "triggers.json"
        six = root / "six"
        six.mkdir()
        (six / "pipeline.star").write_text(SIX_JOBS, encoding="utf-8")

        section(f"P1: start-up, 6 jobs, no git; {pairs} pairs; goals 1.5x and 2x")
        for label, python in (("editable install", Path(sys.executable)),
                              ("plain install", plain)):
            got = paired({"engine": engine(python, six, triggers),
                          "python": [str(python), "-c", "pass"]}, pairs, triggers)
            ratio = [e.seconds / p.seconds for e, p in zip(got["engine"], got["python"],
                                                            strict=True)]
            rows.append((f"  python -c pass ({label})", f"{ms(got['python']):9.1f} ms",
                         f"{peak(got['python']):7.1f} MB", ""))
            rows.append((f"  python -m engine ({label})", f"{ms(got['engine']):9.1f} ms",
                         f"{peak(got['engine']):7.1f} MB",
                         f"{ms(got['engine']) / ms(got['python']):.2f}x python -c pass "
                         f"(median of pair ratios {statistics.median(ratio):.2f}x)"))

        section(f"P2: changed_files + 20 changes_include, {BASE_FILES:,} files, "
                f"{CHANGED[1]:,} changed; {pairs} pairs; goal 1.3x")
        star = root / "git.star"
        star.write_text(git_pipeline(f"changed-{CHANGED[1]}"), encoding="utf-8")
        diff = ["git", "-C", str(repo), "diff", "--name-only", "-z", "--no-renames", "base",
                f"changed-{CHANGED[1]}"]
        got = paired({"engine": engine(sys.executable, repo, triggers, star), "git": diff,
                      "python": [sys.executable, "-c", "pass"]}, pairs, triggers)
        floor = ms(got["git"]) + ms(got["python"])
        ratio = [e.seconds / (g.seconds + p.seconds)
                 for e, g, p in zip(got["engine"], got["git"], got["python"], strict=True)]
        rows.append(("  git diff --name-only -z --no-renames", f"{ms(got['git']):9.1f} ms",
                     f"{peak(got['git']):7.1f} MB", ""))
        rows.append(("  python -c pass", f"{ms(got['python']):9.1f} ms",
                     f"{peak(got['python']):7.1f} MB", f"floor: git + python {floor:.1f} ms"))
        rows.append(("  python -m engine", f"{ms(got['engine']):9.1f} ms",
                     f"{peak(got['engine']):7.1f} MB",
                     f"{ms(got['engine']) / floor:.2f}x the floor (median of round ratios "
                     f"{statistics.median(ratio):.2f}x)"))

        section(f"P3: 10,000-job matrix; {pairs} runs; goals < 200 ms, < 64 MB")
        big = root / "matrix-10000"
        big.mkdir()
        (big / "pipeline.star").write_text(matrix_pipeline(10, 10, 9, 11), encoding="utf-8")
        got = paired({"driver": drive(big, triggers)}, pairs, triggers)
        reports = [json.loads(r.stdout) for r in got["driver"]]
        parent = max(p["driver_rss_mb"] for p in reports)
        sandbox = max(p["sandbox_peak_mb"] for p in reports)
        # Sampling the tree's memory takes CPU from the run: separate runs, not timed.
        sampled = paired({"driver": drive(big, triggers)}, 3, triggers, tree=True)["driver"]
        rows.append(("  10,000 jobs, in-process driver", f"{ms(got['driver']):9.1f} ms",
                     f"{peak(got['driver']):7.1f} MB",
                     f"peak RSS: engine {parent:.1f} MB, sandbox {sandbox:.1f} MB; the two "
                     f"at once (PSS, sampled in 3 more runs) "
                     f"{max(r.tree_mb for r in sampled):.1f} MB most; "
                     f"{reports[0]['bytes']:,} bytes"))

        section(f"growth; {growth_runs} runs each")
        sizes = (1_000, 10_000, 40_000)
        matrices = {1_000: (10, 10, 3, 3), 10_000: (10, 10, 9, 11), 40_000: (10, 10, 20, 20)}
        jobs: dict[int, list[Run]] = {}
        for size in sizes:
            src = root / f"jobs-{size}"
            src.mkdir()
            (src / "pipeline.star").write_text(matrix_pipeline(*matrices[size]),
                                               encoding="utf-8")
            jobs[size] = paired({"d": drive(src, triggers)}, growth_runs, triggers)["d"]
        rows += growth_rows("  jobs", sizes, jobs, "job")

        changed: dict[int, list[Run]] = {}
        for size in CHANGED:
            star = root / f"changed-{size}.star"
            star.write_text(git_pipeline(f"changed-{size}"), encoding="utf-8")
            changed[size] = paired({"e": engine(sys.executable, repo, triggers, star)},
                                   growth_runs, triggers)["e"]
        rows += growth_rows("  changed files", CHANGED, changed, "changed file")

        lines: dict[int, list[Run]] = {}
        for size in (1_000, 10_000):
            src = root / f"lines-{size}"
            src.mkdir()
            (src / "pipeline.star").write_text(source_lines(size), encoding="utf-8")
            lines[size] = paired({"e": engine(sys.executable, src, triggers)}, growth_runs,
                                 triggers)["e"]
        rows += growth_rows("  pipeline lines", (1_000, 10_000), lines, "line")

        loaded: dict[int, list[Run]] = {}
        for size in (1, 10, 100):
            loaded[size] = paired({"e": engine(sys.executable, with_loads(root, size),
                                               triggers)}, growth_runs, triggers)["e"]
        rows += growth_rows("  load() files", (1, 10, 100), loaded, "loaded file")

    print(f"prepared the repository ({CACHE}) and the plain install in {prepared:.1f} s; "
          f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs")
    print_table(rows, ("figure (medians)", "wall", "max RSS", "notes"))


if __name__ == "__main__":
    main()
