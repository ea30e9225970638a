"""`just mutate`: mutation testing of the safeguard modules with mutmut.

Each safeguard module is listed with the in-process tests that guard it. mutmut mutates
the module, runs only the listed tests that reach each mutated function, and reports
every mutant no test killed. A surviving mutant is either a missing test or an
equivalent mutant (it cannot change behaviour); the reviewed equivalent ones, each with
a reason, are in tests/mutation/equivalent.txt and are not reported again.

mutmut names a mutant after its file path, so the run happens in build/mutation/, where
the packages sit at the top (`engine`, `pipeline_builtins`), as they are imported.

    python -m tests.mutation.run                  every safeguard module
    python -m tests.mutation.run engine/capabilities/source_tree.py pipeline_builtins/globs.py
    python -m tests.mutation.run --again          the last run's unreviewed survivors only

`--again` reuses the last run's build/mutation/ as it is (the same modules and test
files; tests added to those files are found) and tries only the mutants that no test
killed (or that a stopped run never reached) and that are not reviewed as equivalent,
then reports the whole run: the quick way to check the tests written for the survivors
of a long run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "mutation"
EQUIVALENT = Path(__file__).with_name("equivalent.txt")

# module (as imported from the staging directory) -> the tests that guard it
SAFEGUARDS: dict[str, list[str]] = {
    "engine/capabilities/source_tree.py": ["tests/sandbox/test_load_confinement.py"],
    **{f"engine/policy/{name}.py": ["tests/policy/test_layering.py",
                                    "tests/policy/test_sections.py"]
       for name in ("schema", "values", "files", "layering", "recorded", "show")},
    "engine/core/validate.py": ["tests/validation/test_job_rules.py",
                           "tests/validation/test_policy_rules.py",
                           "tests/writer/test_writer_rules.py",
                           "tests/sandbox/test_parent_recheck.py"],
    "engine/core/job_graph.py": ["tests/validation/test_job_rules.py"],
    "engine/core/coordinator_rules.py": ["tests/validation/test_coordinator_field_rules.py",
                                         "tests/validation/test_job_rules.py"],
    "engine/core/plain_job.py": ["tests/validation/test_plain_job.py",
                                 "tests/validation/test_job_rules.py"],
    "engine/triggers/file.py": ["tests/writer/test_atomic_write.py",
                                "tests/writer/test_writer_rules.py",
                                "tests/writer/test_operation_id.py"],
    "engine/triggers/operation_id.py": ["tests/writer/test_operation_id.py"],
    "pipeline_builtins/globs.py": ["tests/git/test_glob_reference.py",
                                   "tests/git/test_globs.py"],
    "engine/common/secret.py": ["tests/redaction/test_secret.py",
                                "tests/redaction/test_token_never_written.py"],
    "engine/transcripts/scrub.py": ["tests/redaction/test_scrubber.py",
                                    "tests/redaction/test_token_never_written.py"],
    "engine/capabilities/coordinator/transport.py": [
        "tests/redaction/test_token_never_written.py",
        "tests/capabilities/test_coordinator_faults.py",
        "tests/capabilities/test_coordinator_http.py",
        "tests/capabilities/test_coordinator_wire.py"],
    "engine/capabilities/coordinator/urls.py": [
        "tests/capabilities/test_coordinator_rules.py",
        "tests/redaction/test_token_never_written.py",
        "tests/capabilities/test_coordinator_faults.py",
        "tests/capabilities/test_coordinator_http.py"],
    "engine/capabilities/coordinator/retry.py": [
        "tests/capabilities/test_coordinator_rules.py",
        "tests/redaction/test_token_never_written.py",
        "tests/capabilities/test_coordinator_faults.py",
        "tests/capabilities/test_coordinator_http.py"],
    "engine/capabilities/coordinator/errors.py": [
        "tests/capabilities/test_coordinator_rules.py",
        "tests/redaction/test_token_never_written.py",
        "tests/capabilities/test_coordinator_faults.py",
        "tests/capabilities/test_coordinator_http.py"],
    "engine/run/recheck.py": ["tests/sandbox/test_parent_recheck.py",
                              "tests/sandbox/test_job_slices.py"],
    "engine/core/workflow_state.py": ["tests/event/test_state_rules.py",
                                      "tests/sandbox/test_parent_recheck.py"],
    "engine/core/job_book.py": ["tests/validation/test_job_book.py",
                                "tests/workflow/test_errors.py"],
}

# Tests that cannot pass on mutmut's instrumented copy of the engine: they check what
# importing a module loads, and the instrumentation loads more; or they run a script in
# a directory of its own, where the instrumented copy cannot find mutmut's settings (such
# a test reaches nothing in-process). They run in the suite.
NOT_UNDER_MUTATION = [
    "tests/capabilities/test_coordinator_http.py::test_requests_is_imported_lazily",
    "tests/workflow/test_errors.py::test_a_refused_trigger_names_job_and_line_and_nothing",
    "tests/validation/test_job_rules.py::test_cli_reports_the_first_error_at_its_location",
]

_LINKS = {"engine": "engine", "pipeline_builtins": "builtins/pipeline_builtins",
          "workflow": "builtins/workflow", "tests": "tests", "examples": "examples",
          "docs": "docs"}
_RESULT = re.compile(r"^\s*(\S+__mutmut_\d+): (.+)$")


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def stage(modules: list[str]) -> None:
    """Lay out build/mutation/ with the packages at the top and mutmut's settings."""
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    for name, target in _LINKS.items():
        (STAGE / name).symlink_to(ROOT / target, target_is_directory=True)
    tests = sorted({test for module in modules for test in SAFEGUARDS[module]})
    tests += [f"--deselect={test}" for test in NOT_UNDER_MUTATION
              if test.partition("::")[0] in tests]
    (STAGE / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        f"source_paths = {_toml_list(['engine', 'pipeline_builtins'])}\n"
        f"only_mutate = {_toml_list(modules)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-W", "ignore"]\n'
        "use_git_change_detection = false\n"
        # Each mutant's tests run in a process forked before any test ran (the fork
        # server only collects them): forked from the process that ran them once, a
        # mutant would find every cache the first run filled (the compiled globs) and go
        # unseen wherever a cached answer stands in for the mutated code.
        'process_isolation = "forkserver"\n'
        'forkserver_warmup = "collect"\n'
        "\n[tool.pytest.ini_options]\n"
        'python_files = ["test_*.py"]\n'
        'addopts = "--import-mode=importlib"\n',
        encoding="utf-8",
    )


def unstable_ids(tests: list[str]) -> list[str]:
    """Test ids that a second pytest run in the same process spells differently.

    mutmut records test ids in one run and selects each mutant's tests by them; pytest
    escapes an explicit id with a backslash, a control character or a non-ASCII character
    once more on each run in a process, so wherever a run is not the process's first, such
    a recorded id selects nothing, and pytest's "not found" would count each mutant it
    reaches as killed.
    """
    import contextlib
    import io

    import pytest

    class _Collected:
        def __init__(self) -> None:
            self.ids: list[str] = []

        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            self.ids = [item.nodeid for item in items]

    runs = [_Collected(), _Collected()]
    for run in runs:
        with contextlib.redirect_stdout(io.StringIO()):
            pytest.main(["--collect-only", "-qq", "-p", "no:cacheprovider",
                         "--rootdir", str(ROOT), *(str(ROOT / test) for test in tests)],
                        plugins=[run])
    first, again = runs
    return [one for one, other in zip(first.ids, again.ids, strict=True) if one != other]


def equivalent() -> dict[str, str]:
    """Reviewed equivalent mutants: name -> reason."""
    reviewed: dict[str, str] = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            reviewed[name] = reason.strip()
    return reviewed


def _mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([str(mutmut), *args], cwd=STAGE, env=env, text=True,
                          capture_output=True, check=False)


def _results() -> list[tuple[str, str]]:
    """(mutant, status) of every mutant of the staged run, as mutmut lists them."""
    listed = _mutmut("results", "--all", "true")
    found = (_RESULT.match(line) for line in listed.stdout.splitlines())
    return [(match.group(1), match.group(2).strip()) for match in found if match]


def _staged_modules() -> list[str]:
    """The modules of the staged run (its mutmut settings name them)."""
    import tomllib

    settings = tomllib.loads((STAGE / "pyproject.toml").read_text(encoding="utf-8"))
    modules: list[str] = settings["tool"]["mutmut"]["only_mutate"]
    return modules


def main(argv: list[str]) -> int:
    again = "--again" in argv
    argv = [arg for arg in argv if arg != "--again"]
    if again and (argv or not (STAGE / "mutants").is_dir()):
        print("--again goes over the last run, whose modules it knows; give no module")
        return 2
    modules = _staged_modules() if again else argv or list(SAFEGUARDS)
    unknown = [m for m in modules if m not in SAFEGUARDS]
    if unknown:
        print(f"not a safeguard module: {', '.join(unknown)} (known: {', '.join(SAFEGUARDS)})")
        return 2
    tests = sorted({test for module in modules for test in SAFEGUARDS[module]})
    unstable = unstable_ids(tests)
    if unstable:
        print("these tests cannot be selected again by their ids; give their parametrized "
              "cases printable ids (tests/support/case_ids.py):", *unstable, sep="\n  ")
        return 2
    reviewed = equivalent()
    jobs = os.environ.get("MUTATE_JOBS", "2")
    started = time.monotonic()
    if again:
        retried = [name for name, status in _results()
                   if status not in ("killed", "timeout") and name not in reviewed]
        run = _mutmut("run", "--max-children", jobs, *retried) if retried else None
    else:
        stage(modules)
        run = _mutmut("run", "--max-children", jobs)
    elapsed = time.monotonic() - started
    if run is not None and run.returncode != 0:
        print(run.stdout[-4000:], run.stderr[-4000:])
        return 2
    results = _results()
    reviewed = equivalent()  # read again: reviewed while the run went on
    counts: dict[str, dict[str, int]] = {}
    survivors: list[str] = []
    killed_but_reviewed: list[str] = []
    for name, status in results:
        row = counts.setdefault(name.rsplit(".x", 1)[0], {})
        if status == "timeout":  # the tests did not pass within their time: caught
            status = "killed"
        if status != "killed" and name in reviewed:
            status = "equivalent"
        elif name in reviewed:
            killed_but_reviewed.append(name)
        row[status] = row.get(status, 0) + 1
        if status not in ("killed", "equivalent"):
            survivors.append(f"{name}: {status}")
    if again:
        print(f"{len(retried)} surviving mutant(s) tried again in {elapsed:.0f} s")
    else:
        print(f"mutation run over {len(modules)} module(s) in {elapsed:.0f} s")
    print(f"{'module':48} {'mutants':>7} {'killed':>7} {'equiv.':>7} {'survived':>8} "
          f"{'no tests':>8}")
    for module, row in sorted(counts.items()):
        total = sum(row.values())
        survived = total - sum(row.get(k, 0) for k in ("killed", "equivalent", "no tests"))
        print(f"{module:48} {total:7} {row.get('killed', 0):7} "
              f"{row.get('equivalent', 0):7} {survived:8} {row.get('no tests', 0):8}")
    print("(timeouts count as killed; 'no tests': no listed test reaches the function)")
    for survivor in survivors:
        name, _, status = survivor.partition(": ")
        if status == "no tests":
            print(f"not reached by the listed tests: {name}")
        else:
            print("\n" + _mutmut("show", name).stdout.strip())
    run_modules = {module.removesuffix(".py").replace("/", ".") for module in modules}
    generated = {name for name, _ in results}
    stale = sorted(name for name in set(reviewed) - generated
                   if name.rsplit(".x", 1)[0] in run_modules)
    if stale:
        print("\nreviewed as equivalent but no longer generated:", *stale, sep="\n  ")
    if killed_but_reviewed:  # a reason that no longer fits: renumbered, or never equivalent
        print("\nreviewed as equivalent but killed:", *killed_but_reviewed, sep="\n  ")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
