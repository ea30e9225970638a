"""`python -m engine test`: run pipeline test cases through the real sandbox and policy.

Each TOML case is evaluated like an ingest, with in-memory git and coordinator answers
from the case (the `memory` modules of engine.capabilities), or git asked in a real
repository built from its `[repository]` table (engine.pipeline_tests.repository), and
its result compared with the case's expectation; a transcript is replayed and compared
with its recorded result. One line per failing case, followed by a diff, then
`N passed, M failed`.
"""

from __future__ import annotations

import io
import json
import os
import time

from engine.core.diagnostics import EngineFailure, PipelineFailed, UsageError
from engine.core.jobs import count_jobs
from engine.pipeline_tests.cases import Case, CaseError, read_case
from engine.pipeline_tests.verdict import Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from engine.capabilities.base import GitSource
    from engine.pipeline_tests.repository import Repositories
    from engine.policy import Policy
    from engine.run.ingest import RunOptions
    from engine.run.inputs import Inputs
    from engine.sandbox.parent import Sandbox


# Cases run in worker processes when there are at least this many and several CPUs.
PARALLEL_FROM = 8
MAX_WORKERS = 4


def run_all(paths: list[str], policy_files: list[str], update: bool, out: TextIO,
            sandbox: Sandbox | None = None, *, pattern: str | None = None,
            verbose: bool = False, junit: str | None = None) -> int:
    """Run every case under `paths` (those whose path matches `pattern`, when given);
    report; exit 1 when one failed, 0 otherwise. A file in a case directory that is
    not a case is a failure, never skipped."""
    from engine.pipeline_tests.discovery import stray_reason
    from engine.policy import load_policy
    from engine.policy import policy_files as named_files

    # Read once for every case (exit 2 if broken); a case's own files layer over it.
    operator = load_policy(named_files(policy_files, os.environ))
    if junit is not None:
        from engine.transcripts.transcript import check_writable

        check_writable(junit, "the JUnit report")
    files, cases = _selected(paths or ["."], pattern)
    stray = set(files) - set(cases)
    verdicts: dict[str, Verdict] = {p: Verdict(p, stray_reason(p)) for p in stray}
    timings: dict[str, float] = {}
    to_run = [f for f in files if f not in stray]
    verdicts.update(_run_cases(to_run, operator, update, sandbox, timings))
    failed = _report(files, verdicts, out, verbose)
    if junit is not None:
        from engine.pipeline_tests.junit import write_report

        write_report(junit, [verdicts[p] for p in files], timings)
    return 1 if failed else 0


def _selected(paths: list[str], pattern: str | None) -> tuple[list[str], list[str]]:
    """The files to report on (cases and strays, filtered by `pattern`) and the cases
    among them; UsageError when there is nothing to run."""
    from engine.pipeline_tests.discovery import discover, strays
    from engine.run.arguments import PROG

    try:
        cases = discover(paths)
    except CaseError as err:
        raise UsageError(f"test: {err}", PROG) from None
    if not cases:
        raise UsageError(f"test: no test cases found in {', '.join(paths)}", PROG)
    # Around the cases found in a directory: a case file named on the command line
    # says nothing about its neighbours.
    directories = [p for p in paths if os.path.isdir(p)]
    files = sorted({*cases, *strays(discover(directories) if directories else [])})
    if pattern is not None:
        files = [f for f in files if _matches(f, pattern)]
        if not files:
            raise UsageError(f"test: no test case matches -k {pattern!r}", PROG)
    return files, cases


def _run_cases(to_run: list[str], operator: Policy, update: bool, sandbox: Sandbox | None,
               timings: dict[str, float]) -> dict[str, Verdict]:
    """Each case's verdict: in parallel when there are enough cases and CPUs, else one
    after the other (the first using `sandbox` when given)."""
    from engine.pipeline_tests.repository import Repositories

    workers = min(os.cpu_count() or 1, MAX_WORKERS, len(to_run) // 2)
    repositories = Repositories()
    try:
        if len(to_run) >= PARALLEL_FROM and workers > 1:
            return _in_parallel(to_run, operator, update, workers, timings, repositories)
        spare = [sandbox] if sandbox is not None else []

        def next_sandbox() -> Sandbox | None:
            return spare.pop() if spare else None  # None: evaluate forks a fresh one

        verdicts: dict[str, Verdict] = {}
        for path in to_run:
            started = time.monotonic()
            verdicts[path] = run_one(path, operator, update, next_sandbox, repositories)
            timings[path] = time.monotonic() - started
        return verdicts
    finally:
        repositories.close()


def _report(files: list[str], verdicts: dict[str, Verdict], out: TextIO,
            verbose: bool) -> int:
    """Write each verdict and the totals; the number of failures."""
    passed = failed = 0
    for path in files:
        verdict = verdicts[path]
        if verdict.updated is not None:
            out.write(f"updated {verdict.updated}\n")
        if verdict.problem is None:
            passed += 1
            if verbose:
                out.write(f"ok   {path}\n")
            continue
        failed += 1
        out.write(f"FAIL {path}: {verdict.problem}\n")
        out.write("".join(f"    {line}\n" for line in verdict.detail.splitlines()))
    out.write(f"{passed} passed, {failed} failed\n")
    return failed


def _matches(path: str, pattern: str) -> bool:
    """`-k`: a substring of the case's path, or a glob pattern when it has `*?[`."""
    if any(char in pattern for char in "*?["):
        from fnmatch import fnmatchcase

        return fnmatchcase(path, pattern) or fnmatchcase(os.path.basename(path), pattern)
    return pattern in path


def _in_parallel(paths: list[str], operator: Policy, update: bool, workers: int,
                 timings: dict[str, float], repositories: Repositories
                 ) -> dict[str, Verdict]:
    """Cases in waves of `workers`: each wave's sandboxes are forked first, while this
    process has no other thread (a fork never copies a lock another thread holds), then
    the wave's cases are run by threads, each with its own sandbox, and joined."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.sandbox.parent import Sandbox

    out: dict[str, Verdict] = {}
    for start in range(0, len(paths), workers):
        wave = paths[start:start + workers]
        sandboxes = [Sandbox() for _ in wave]

        try:
            with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                results = list(pool.map(_run_with, wave, sandboxes,
                                        [(operator, update, repositories)] * len(wave)))
        finally:
            for sandbox in sandboxes:
                sandbox.discard()
        for path, (verdict, seconds) in zip(wave, results, strict=True):
            out[path], timings[path] = verdict, seconds
    return out


def _run_with(path: str, sandbox: Sandbox, how: tuple[Policy, bool, Repositories]
              ) -> tuple[Verdict, float]:
    began = time.monotonic()
    spare = [sandbox]
    verdict = run_one(path, how[0], how[1], lambda: spare.pop() if spare else None, how[2])
    return verdict, time.monotonic() - began


def run_one(path: str, operator: Policy, update: bool,
            sandbox: Callable[[], Sandbox | None],
            repositories: Repositories | None = None) -> Verdict:
    """Run one case file under the operator's policy; a broken case is a failed case,
    never an abort. A case with a `[repository]` table gets a copy of it from
    `repositories` (default: one built for this case alone, removed afterwards)."""
    try:
        if path.endswith(".json"):
            return _run_transcript(path, operator, sandbox())
        case = read_case(path)
        if case.repository is not None and repositories is None:
            from engine.pipeline_tests.repository import Repositories

            own = Repositories()
            try:
                return _run_case(case, operator, update, sandbox(), own)
            finally:
                own.close()
        return _run_case(case, operator, update, sandbox(), repositories)
    except CaseError as err:
        return Verdict(path, f"invalid test case: {err}")
    except UsageError as err:
        return Verdict(path, "invalid test case: " + "; ".join(
            f"{d.location}: {d.message}" for d in err.diagnostics))


def _run_transcript(path: str, operator: Policy, sandbox: Sandbox | None) -> Verdict:
    from engine.transcripts import transcript
    from engine.transcripts.replay import drift, replay

    data = transcript.load(path)
    difference = drift(data, replay(data, path, io.StringIO(), sandbox, operator))
    if difference:
        return Verdict(path, "the replay differs from the recorded run", difference)
    return Verdict(path)


def _git(case: Case, run_inputs: Inputs, options: RunOptions,
         repositories: Repositories | None) -> GitSource:
    """The case's git: its [git] answers, or git in a copy of its [repository]."""
    from engine.capabilities.git.memory import StaticGit

    branch = run_inputs.context.get("branch")
    if case.repository is None or repositories is None:
        return StaticGit(**case.git, env_branch=branch)
    from engine.capabilities.git.live import LiveGit
    from engine.pipeline_tests.repository import BuildError

    try:
        run_inputs.code_dir = repositories.checkout(case.repository)
    except BuildError as err:
        raise CaseError(str(err)) from None
    limits = options.limits
    return LiveGit(run_inputs.code_dir, on_missing_history=options.policy.git.on_missing_history,
                   env_branch=branch, wall_seconds=limits.wall_seconds,
                   memory_mb=limits.memory_mb)


def _run_case(case: Case, operator: Policy, update: bool, sandbox: Sandbox | None,
              repositories: Repositories | None = None) -> Verdict:
    from engine.capabilities.coordinator.memory import StaticJobState
    from engine.policy import load_policy
    from engine.run import ingest, inputs
    from engine.triggers.file import read_existing

    policy = load_policy(case.policy, over=operator) if case.policy else operator
    options = ingest.RunOptions(dry_run=True, policy=policy)
    expect = case.expect
    output = io.StringIO()
    try:
        text = inputs.read_pipeline(case.pipeline, case.src)
        run_inputs = inputs.assemble(
            src_dir=case.src, pipeline_path=case.pipeline, pipeline_text=text,
            triggers_file=case.existing or expect.golden or "triggers.json",
            reading=case.env, token=None,
        )
        git = _git(case, run_inputs, options, repositories)
        if case.coordinator is not None:
            job_state: Any = StaticJobState(**case.coordinator)
        else:
            job_state = ingest.job_state_for(run_inputs, options)
        backends = ingest.Backends(git, job_state,
                                   ingest.source_tree(run_inputs, options.policy))
        existing = (read_existing(case.existing, options.policy.jobs)
                    if case.existing else None)
        evaluation = ingest.evaluate(run_inputs, options, output, sandbox, backends)
        composition = ingest.compose_in_memory(run_inputs, evaluation, options, existing)
    except PipelineFailed as failure:
        return _failed_run(case, failure, output.getvalue())
    document = composition.document or b""
    verdict = _judged(case, [job.to_document() for job in evaluation.jobs], output.getvalue(),
                      document, update)
    verdict.document = document
    return verdict


def _judged(case: Case, produced: list[dict[str, Any]], output: str, document: bytes,
            update: bool) -> Verdict:
    """A run that succeeded, against what the case expects."""
    expect = case.expect
    missing = [text for text in expect.output if text not in output]
    if expect.error is not None:
        return Verdict(case.path, f"expected an error containing {expect.error!r}, but the "
                       f"run succeeded with {count_jobs(len(produced))}")
    if missing:
        return Verdict(case.path, f"the output lacks {missing[0]!r}", output)
    if expect.jobs is not None:
        wanted = _expected_jobs(expect.jobs)
        if produced != wanted:
            return Verdict(case.path, "the jobs differ from expect.jobs",
                           _diff(_json(wanted), _json(produced), "expected", "produced"))
        return Verdict(case.path)
    assert expect.golden is not None
    return _against_golden(case.path, expect.golden, document, update)


def _failed_run(case: Case, failure: EngineFailure, output: str) -> Verdict:
    errors = "".join(f"{d.location}: {d.severity}: {d.message}\n" for d in failure.diagnostics)
    wanted = case.expect.error
    if wanted is None:
        return Verdict(case.path, "the run failed", errors)
    if not any(wanted in d.message for d in failure.diagnostics):
        return Verdict(case.path, f"the run failed, but not with {wanted!r}", errors)
    missing = [text for text in case.expect.output if text not in output]
    if missing:
        return Verdict(case.path, f"the output lacks {missing[0]!r}", output)
    return Verdict(case.path)


def _expected_jobs(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inline jobs as the triggers file holds them (defaults filled in, keys ordered)."""
    from engine.core.diagnostics import Location
    from engine.core.jobs import Job
    from engine.core.validate import JobError, normalize_document

    out = []
    for index, item in enumerate(items):
        try:
            fields = normalize_document(item)
        except JobError as err:
            raise CaseError(f"expect.jobs[{index}]: {err}") from None
        out.append(Job(fields["job_name"], fields, Location("")).to_document())
    return out


def _against_golden(path: str, golden: str, produced: bytes, update: bool) -> Verdict:
    from engine.common.regular_file import FileRefused, read_regular
    from engine.triggers.file import MAX_BYTES, write_atomic

    recorded: bytes | None
    try:
        recorded = read_regular(golden, MAX_BYTES, what="golden file")
    except FileNotFoundError:
        recorded = None
    except FileRefused as err:
        return Verdict(path, str(err))
    except OSError as err:
        return Verdict(path, f"cannot read the golden file {golden}: {err.strerror}")
    if recorded == produced:
        return Verdict(path)
    if update:
        write_atomic(golden, produced)
        return Verdict(path, updated=golden)
    if recorded is None:
        return Verdict(path, f"no golden file {golden} (run with --update to write it)")
    return Verdict(path, f"the triggers document differs from {golden}",
                   _diff(_shown(recorded), _shown(produced), golden, "produced"))


def _shown(document: bytes) -> str:
    return document.decode("utf-8", "replace") or "(nothing written: no jobs)\n"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _diff(before: str, after: str, before_name: str, after_name: str) -> str:
    import difflib

    lines = difflib.unified_diff(before.splitlines(keepends=True),
                                 after.splitlines(keepends=True), before_name, after_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
