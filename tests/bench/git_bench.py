"""Benchmark: change detection on a 100,000-file repository with 10,000 changed files.

Run as `python -m tests.bench.git_bench`. Builds the repository with `git fast-import`
(a few seconds), then times, alternating so that drift in the machine's load hits all
alike: `python -m engine` on a pipeline that calls `changed_files()` and 20
`changes_include` globs; `git diff --name-only -z --no-renames` between the same two
commits alone (the diff the engine runs: with `python -c pass`, the floor the engine is
measured against), and beside it the same diff with git's default rename detection;
`python -c pass`; and the engine on a pipeline that asks git nothing. Every command is
run from a separate launcher process, so that peak memory is the command's own. Prints
a table; asserts nothing.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.launcher import Run, compile_bytecode, launch
from tests.bench.run_bench import ENV, median
from tests.bench.table import print_table
from tests.support.gitrepo import git_env

FILES = 100_000
MODIFIED, ADDED, DELETED = 8_000, 1_000, 1_000  # 10,000 changed paths
RUNS = 20
EXTENSIONS = (".py", ".js", ".ts", ".go", ".md", ".txt", ".json", ".yml", ".css", ".sh")

GLOBS = (
    "**/*.py", "**/*.go", "docs/**", "**/*.md", "src/**/*.ts", "**/*.rs", ".github/**",
    "pkg/d07/**", "**/test_*.py", "*.toml", "pkg/*/s3/*.json", "**/*.never", "README*",
    "pkg/d9?/**", "**/[ab]*.css", "**/*.yml", "web/**/*.tsx", "pkg/d00/s0/f0000000.py",
    "**/*.lock", "vendor/**",
)

PIPELINE = f"""\
files = changed_files()
GLOBS = {list(GLOBS)!r}
hits = [g for g in GLOBS if changes_include(g)]
trigger_job("report", env = {{"FILES": str(len(files)), "HITS": str(len(hits))}})
"""

NO_GIT_PIPELINE = 'trigger_job("report", env = {"FILES": "0"})\n'


def timed(args: list[str]) -> Run:
    """Run a command through the launcher: wall seconds, exit code, peak RSS."""
    return launch(args, ENV)


# For comparison only: the same engine with git run through `subprocess` instead of
# GitPython, to show what GitPython's import costs on this path.
_WITHOUT_GITPYTHON = """\
import sys
import engine.capabilities.git.live as git_live
def execute(self, cwd, args):
    import subprocess
    proc = subprocess.run(["git", *git_live._SAFE_CONFIG, *args], cwd=cwd,
                          capture_output=True, stdin=subprocess.DEVNULL)
    if proc.returncode:
        raise git_live.CapabilityError(proc.stderr.decode(errors="replace").strip())
    return proc.stdout, proc.stderr.decode(errors="replace")
git_live.LiveGit._execute = execute
from engine.cli.main import main
raise SystemExit(main(sys.argv[1:]))
"""


def _path(number: int) -> str:
    return (f"pkg/d{number // 1000 % 100:02d}/s{number // 100 % 10}/"
            f"f{number:07d}{EXTENSIONS[number % len(EXTENSIONS)]}")


def _blob(out: list[bytes], mark: int, text: str) -> None:
    data = text.encode()
    out.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))


def _commit(out: list[bytes], mark: int, epoch: int, message: str, parent: int | None,
            lines: list[bytes]) -> None:
    msg = message.encode()
    out.append(b"commit refs/heads/main\nmark :%d\n" % mark)
    out.append(b"committer Bench <bench@example.com> %d +0000\n" % epoch)
    out.append(b"data %d\n%s\n" % (len(msg), msg))
    if parent is not None:
        out.append(b"from :%d\n" % parent)
    out.extend(lines)
    out.append(b"\n")


def fast_import_stream() -> bytes:
    """Two commits: FILES files, then MODIFIED changed, ADDED new and DELETED removed."""
    out: list[bytes] = []
    first: list[bytes] = []
    for number in range(FILES):
        _blob(out, number + 1, f"file {number}\n")
        first.append(b"M 100644 :%d %s\n" % (number + 1, _path(number).encode()))
    _commit(out, FILES + 1, 1_700_000_000, "all files", None, first)
    second: list[bytes] = []
    mark = FILES + 2
    step = FILES // (MODIFIED + DELETED)
    for index in range(MODIFIED + DELETED):
        number = index * step
        if index < MODIFIED:
            _blob(out, mark, f"file {number}, changed\n")
            second.append(b"M 100644 :%d %s\n" % (mark, _path(number).encode()))
            mark += 1
        else:
            second.append(b"D %s\n" % _path(number).encode())
    for number in range(FILES, FILES + ADDED):
        _blob(out, mark, f"new file {number}\n")
        second.append(b"M 100644 :%d %s\n" % (mark, _path(number).encode()))
        mark += 1
    _commit(out, mark, 1_700_000_060, "ten thousand changes", FILES + 1, second)
    return b"".join(out)


def build_repository(path: Path) -> None:
    """Create the repository (no working tree checkout: diffs between commits need none)."""
    env = git_env(path.parent)
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(path)],
                   check=True, env=env)
    subprocess.run(["git", "fast-import", "--quiet"], input=fast_import_stream(), cwd=path,
                   check=True, env=env)


def main() -> None:
    """Build, run each command RUNS times (after one warm-up), print the table."""
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="engine-git-bench-") as tmp:
        root = Path(tmp)
        repo = root / "repo"
        start = time.perf_counter()
        build_repository(repo)
        build_seconds = time.perf_counter() - start
        count = len(subprocess.run(
            ["git", "diff", "--name-only", "-z", "--no-renames", "HEAD^", "HEAD"], cwd=repo,
            capture_output=True, check=True).stdout.split(b"\0")) - 1
        pipeline = root / "pipeline.star"
        pipeline.write_text(PIPELINE, encoding="utf-8")
        no_git = root / "no_git.star"
        no_git.write_text(NO_GIT_PIPELINE, encoding="utf-8")
        triggers = root / "triggers.json"

        def engine(star: Path, code: str | None = None) -> list[str]:
            start = ["-m", "engine"] if code is None else ["-c", code]
            return [sys.executable, *start, "--src", str(repo), "--pipeline", str(star),
                    "--triggers-file", str(triggers)]

        commands = {
            "engine": engine(pipeline),
            "engine_subprocess": engine(pipeline, _WITHOUT_GITPYTHON),
            "git": ["git", "-C", str(repo), "diff", "--name-only", "-z", "HEAD^", "HEAD"],
            "git_no_renames": ["git", "-C", str(repo), "diff", "--name-only", "-z",
                               "--no-renames", "HEAD^", "HEAD"],
            "python": [sys.executable, "-c", "pass"],
            "engine_no_git": engine(no_git),
        }
        results: dict[str, list[Run]] = {name: [] for name in commands}
        for index in range(RUNS + 1):
            for name, args in commands.items():
                run = timed(args)
                if run.code != 0:
                    raise SystemExit(f"benchmark command failed ({run.code}): {' '.join(args)}")
                triggers.unlink(missing_ok=True)
                if index:
                    results[name].append(run)

    ms = {name: 1000 * median([r.seconds for r in runs]) for name, runs in results.items()}
    rss = {name: max(r.max_rss_mb for r in runs) for name, runs in results.items()}
    # The floor is the diff changed_files really runs (--no-renames); the one with
    # git's default rename detection does more work, so it is shown beside, not used.
    floor = ms["git_no_renames"] + ms["python"]
    target = 1.5 * floor

    def ratio(name: str) -> str:
        return (f"{ms[name] / floor:.2f}x the floor (git --no-renames + python); "
                f"{ms[name] / (ms['git'] + ms['python']):.2f}x git with renames + python")

    rows = [
        (f"repository: {FILES:,} files, {count:,} changed", f"built in {build_seconds:.1f} s",
         "", ""),
        ("git diff --name-only -z HEAD^ HEAD", f"{ms['git']:8.1f} ms", f"{rss['git']:7.1f} MB",
         "alone, with git's default rename detection (for comparison)"),
        ("git diff --name-only -z --no-renames HEAD^ HEAD", f"{ms['git_no_renames']:8.1f} ms",
         f"{rss['git_no_renames']:7.1f} MB", "alone: the diff changed_files runs (the floor)"),
        ("python -c pass", f"{ms['python']:8.1f} ms", f"{rss['python']:7.1f} MB", ""),
        ("python -m engine, no git builtin", f"{ms['engine_no_git']:8.1f} ms",
         f"{rss['engine_no_git']:7.1f} MB", "the engine's own start-up"),
        ("python -m engine, changed_files() + 20 changes_include", f"{ms['engine']:8.1f} ms",
         f"{rss['engine']:7.1f} MB", f"{ratio('engine')}; target {target:.0f} ms (1.5x floor)"),
        ("  the same, git through subprocess (no GitPython)",
         f"{ms['engine_subprocess']:8.1f} ms", f"{rss['engine_subprocess']:7.1f} MB",
         ratio("engine_subprocess")),
    ]
    print_table(rows, (f"benchmark (median of {RUNS})", "wall", "max RSS", "notes"))


if __name__ == "__main__":
    main()
