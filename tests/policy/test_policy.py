"""Operator policy files: strict parsing, strict layering, and every rule enforced.

Everything runs through the real command line and the real sandbox.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from engine.capabilities.base import CapabilityError
from tests.support.engine_run import Result, run_cli


def _policy(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", errors="surrogateescape")  # bytes as given
    return path


def _ingest(tmp_path: Path, pipeline: str, *policies: Path,
            env: dict[str, str] | None = None) -> tuple[Result, Path, Path]:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    star = src / "pipeline.star"
    star.write_text(pipeline, encoding="utf-8")
    triggers = tmp_path / "triggers.json"
    args: list[str | Path] = ["--src", src, "--triggers-file", triggers]
    for policy in policies:
        args += ["--policy", policy]
    return run_cli(*args, env=env), star, triggers


# --- parsing: a typo never passes ------------------------------------------------------

CONFIG_ERRORS: dict[str, tuple[str, str]] = {
    "unknown section": ("[limit]\nwall_seconds = 1\n", "unknown section [limit] (did you mean"),
    "unknown key": ("[limits]\nwall_second = 1\n", "unknown key limits.wall_second (did you"),
    "string for a number": ('[limits]\nmemory_mb = "512"\n', "limits.memory_mb must be a "
                            "positive integer, got the string '512'"),
    "negative limit": ("[limits]\nmax_jobs = -1\n", "limits.max_jobs must be a positive"),
    "bool for an integer": ("[limits]\ncpu_seconds = true\n", "limits.cpu_seconds must be"),
    "call stack above the ceiling": ("[limits]\nmax_callstack = 5000\n", "at most 1000"),
    "unknown builtin": ('[builtins]\ndisabled = ["is_job_runing"]\n',
                        "'is_job_runing' is not a builtin (did you mean 'is_job_running'?)"),
    "ctx cannot be disabled": ('[builtins]\ndisabled = ["ctx"]\n', "ctx cannot be disabled"),
    "unknown condition": ('[jobs]\nallowed_conditions = ["sometimes"]\n',
                          "'sometimes' is not a condition"),
    "list of numbers": ("[jobs]\nallowed_images = [1]\n", "jobs.allowed_images must be a list"),
    "bad choice": ('[git]\non_missing_history = "ignore"\n', "git.on_missing_history must be"),
    "not a table": ("limits = 3\n", "[limits] must be a table"),
    "not TOML": ("[limits\n", "not valid TOML"),
    "not UTF-8": ("[limits]\n# \udcff\n", "not UTF-8"),
    "a setting outside any section": ("wall_seconds = 1\n",
                                      "wall_seconds is set outside any section; settings "
                                      "belong in a section: [limits]"),
    "an unknown key lists the known ones": ("[jobs]\nfoo = 1\n",
                                            "([jobs] has: allowed_images, "),
    "an infinite wall clock": ("[limits]\nwall_seconds = inf\n",
                               "limits.wall_seconds may be at most 86400, got inf"),
    "not a number": ("[limits]\nwall_seconds = nan\n", "must be a positive number"),
    "memory beyond any system": ("[limits]\nmemory_mb = 99999999999999\n",
                                 "limits.memory_mb may be at most 1048576"),
    "CPU beyond a day": ("[limits]\ncpu_seconds = 100000000\n", "at most 86400"),
}


@pytest.mark.parametrize("text, needle", CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_policy_mistakes_are_configuration_errors(tmp_path: Path, text: str,
                                                  needle: str) -> None:
    policy = _policy(tmp_path, "policy.toml", text)
    result = run_cli("policy", "show", "--policy", policy)
    assert result.code == 2, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{policy}: error: "), first
    assert needle in first
    result, _, triggers = _ingest(tmp_path, 'trigger_job("a")\n', policy)
    assert result.code == 2
    assert not triggers.exists()


def test_a_missing_policy_file_is_a_configuration_error(tmp_path: Path) -> None:
    result = run_cli("policy", "show", "--policy", tmp_path / "nope.toml")
    assert result.code == 2
    assert "policy file not found" in result.stderr


# --- layering: the stricter value wins ---------------------------------------------------

ORG = """
[limits]
wall_seconds = 5
max_jobs = 50
[builtins]
disabled = ["get_job_result"]
[jobs]
allowed_images = ["registry.example.com/*"]
allowed_conditions = ["all_success", "always", "any_failed"]
max_priority = 10
reserved_env_prefixes = ["ORG_"]
[load]
max_files = 20
[git]
on_missing_history = "error"
"""

PROJECT = """
[limits]
wall_seconds = 60
max_jobs = 20
[builtins]
disabled = ["is_job_running"]
[jobs]
allowed_images = ["registry.example.com/team/*"]
allowed_conditions = ["all_success", "always"]
max_priority = 50
[load]
enabled = false
[git]
on_missing_history = "all_changed"
"""


def _effective(*policies: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    args: list[str | Path] = ["policy", "show"]
    for policy in policies:
        args += ["--policy", policy]
    result = run_cli(*args, env=env)
    assert result.code == 0, result.output
    return tomllib.loads(result.stdout)


def test_layered_files_take_the_stricter_value_in_either_order(tmp_path: Path) -> None:
    org = _policy(tmp_path, "org.toml", ORG)
    project = _policy(tmp_path, "project.toml", PROJECT)
    for order in ((org, project), (project, org)):
        effective = _effective(*order)
        assert effective["limits"]["wall_seconds"] == 5
        assert effective["limits"]["max_jobs"] == 20
        assert set(effective["builtins"]["disabled"]) == {"get_job_result", "is_job_running"}
        assert effective["jobs"]["allowed_conditions"] == ["all_success", "always"]
        assert effective["jobs"]["max_priority"] == 10
        assert sorted(map(tuple, effective["jobs"]["allowed_images"])) == [
            ("registry.example.com/*",), ("registry.example.com/team/*",)]
        assert effective["load"] == {"enabled": False, "max_files": 20}
        assert effective["git"]["on_missing_history"] == "error"


def test_the_effective_policy_can_be_read_back_as_a_policy(tmp_path: Path) -> None:
    org = _policy(tmp_path, "org.toml", ORG)
    project = _policy(tmp_path, "project.toml", PROJECT)
    shown = run_cli("policy", "show", "--policy", org, "--policy", project)
    assert shown.code == 0, shown.output
    again = _policy(tmp_path, "effective.toml", shown.stdout)
    assert _effective(again) == _effective(org, project)


def test_defaults_apply_without_a_file_and_the_environment_names_files(tmp_path: Path) -> None:
    defaults = _effective()
    assert defaults["limits"]["wall_seconds"] == 10
    assert defaults["limits"]["memory_mb"] == 1024
    assert defaults["limits"]["max_jobs"] == 1000
    assert defaults["jobs"]["reserved_env_prefixes"] == ["REACTORCIDE_", "RC_WF_"]
    org = _policy(tmp_path, "org.toml", ORG)
    from_env = _effective(env={"REACTORCIDE_PIPELINE_POLICY": str(org)})
    assert from_env["limits"]["max_jobs"] == 50
    project = _policy(tmp_path, "project.toml", PROJECT)
    both = _effective(project, env={"REACTORCIDE_PIPELINE_POLICY": str(org)})
    assert both["limits"]["max_jobs"] == 20
    assert both["limits"]["wall_seconds"] == 5


# --- enforcement -------------------------------------------------------------------------

DISABLED: dict[str, tuple[str, str]] = {
    "coordinator lookup": ("is_job_running", 'x = 1\nif is_job_running("deploy"):\n    pass\n'),
    "through ctx": ("git_info", "info = ctx.git_info()\n"),
    "print": ("print", 'print("hello")\n'),
    "trigger_job": ("trigger_job", 'x = 1\ntrigger_job("a")\n'),
}


@pytest.mark.parametrize("name, pipeline", DISABLED.values(), ids=DISABLED.keys())
def test_a_disabled_builtin_fails_at_the_callers_line(tmp_path: Path, name: str,
                                                      pipeline: str) -> None:
    policy = _policy(tmp_path, "p.toml", f'[builtins]\ndisabled = ["{name}"]\n')
    result, star, triggers = _ingest(tmp_path, pipeline, policy)
    assert result.code == 1, result.output
    line = next(i for i, text in enumerate(pipeline.splitlines(), 1) if name in text)
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{star}:{line}:"), first
    assert f"{name} is disabled by the platform's policy" in first
    assert not triggers.exists()


RULES: dict[str, tuple[str, str, str]] = {
    "image not allowed": ('[jobs]\nallowed_images = ["registry.example.com/*"]\n',
                          'trigger_job("a", container_image = "docker.io/evil:latest")\n',
                          "container_image 'docker.io/evil:latest' is not allowed by the "
                          "policy (jobs.allowed_images)"),
    "source url not allowed": ('[jobs]\nallowed_source_urls = ["https://git.example.com/*"]\n',
                               'trigger_job("a", ci_source_url = "https://evil.test/x.git")\n',
                               "ci_source_url 'https://evil.test/x.git' is not allowed by "
                               "the policy (jobs.allowed_source_urls)"),
    "condition not allowed": ('[jobs]\nallowed_conditions = ["all_success"]\n',
                              'trigger_job("b")\ntrigger_job("a", depends_on = ["b"], '
                              'condition = "always")\n',
                              "condition 'always' is not allowed by the policy "
                              "(jobs.allowed_conditions)"),
    "priority too high": ("[jobs]\nmax_priority = 5\n", 'trigger_job("a", priority = 6)\n',
                          "priority 6 is above the policy's maximum of 5 (jobs.max_priority)"),
    "timeout too long": ("[jobs]\nmax_timeout = 600\n", 'trigger_job("a", timeout = 601)\n',
                         "timeout 601 is above the policy's maximum of 600 s"),
    "reserved env prefix": ('[jobs]\nreserved_env_prefixes = ["ORG_"]\n',
                            'trigger_job("a", env = {"ORG_SECRET": "x"})\n',
                            "env key 'ORG_SECRET' uses the reserved prefix 'ORG_'"),
    "platform prefixes stay reserved": ("[jobs]\nreserved_env_prefixes = []\n",
                                        'trigger_job("a", env = {"RC_WF_ID": "x"})\n',
                                        "uses the reserved prefix 'RC_WF_'"),
    "every rule a job breaks, at once": (
        '[jobs]\nmax_priority = 5\nmax_timeout = 600\nallowed_images = ["reg/*"]\n',
        'trigger_job("a", priority = 6, timeout = 601, container_image = "evil")\n',
        "priority 6 is above the policy's maximum of 5 (jobs.max_priority); timeout 601 is "
        "above the policy's maximum of 600 s (jobs.max_timeout); container_image 'evil' is "
        "not allowed by the policy (jobs.allowed_images)"),
}


@pytest.mark.parametrize("policy_text, pipeline, needle", RULES.values(), ids=RULES.keys())
def test_each_job_rule_names_the_rule_the_value_and_the_line(
    tmp_path: Path, policy_text: str, pipeline: str, needle: str
) -> None:
    policy = _policy(tmp_path, "p.toml", policy_text)
    result, star, triggers = _ingest(tmp_path, pipeline, policy)
    assert result.code == 1, result.output
    last_line = len(pipeline.splitlines())
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{star}:{last_line}:1: error: job \"a\": "), first
    assert needle in first
    assert not triggers.exists()


def test_allowed_values_pass(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "p.toml", (
        '[jobs]\nallowed_images = ["registry.example.com/*"]\nmax_priority = 5\n'))
    result, _, triggers = _ingest(
        tmp_path, 'trigger_job("a", container_image = "registry.example.com/app:1", '
        "priority = 5)\n", policy)
    assert result.code == 0, result.output
    assert json.loads(triggers.read_text())["jobs"][0]["priority"] == 5


LIMITS: dict[str, tuple[str, str, str]] = {
    "wall clock": ("[limits]\nwall_seconds = 1\n",
                   "for i in range(100000):\n    for j in range(100000):\n        pass\n",
                   "wall-clock limit of 1 s exceeded"),
    "job count": ("[limits]\nmax_jobs = 2\n",
                  'for i in range(3):\n    trigger_job("j%d" % i)\n', "job limit of 2 jobs"),
    "call stack": ("[limits]\nmax_callstack = 20\n",
                   "def f(n):\n    return f(n + 1)\nf(0)\n", "call-stack limit of 20 frames"),
    "output size": ("[limits]\nmax_output_bytes = 300\n",
                    'trigger_job("a", env = {"X": "y" * 400})\n', "output limit of 300 bytes"),
}


@pytest.mark.parametrize("policy_text, pipeline, needle", LIMITS.values(), ids=LIMITS.keys())
def test_limits_come_from_the_policy(tmp_path: Path, policy_text: str, pipeline: str,
                                     needle: str) -> None:
    policy = _policy(tmp_path, "p.toml", policy_text)
    result, _, triggers = _ingest(tmp_path, pipeline, policy)
    assert result.code == 1, result.output
    assert needle in result.stderr
    assert not triggers.exists()


def test_print_budget_truncates_with_a_notice(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "p.toml", "[limits]\nmax_print_bytes = 40\n")
    result, _, triggers = _ingest(
        tmp_path, 'for i in range(20):\n    print("line %d" % i)\ntrigger_job("a")\n', policy)
    assert result.code == 0, result.output
    assert "line 0" in result.stderr
    assert "line 19" not in result.stderr
    assert result.stderr.count("print output truncated") == 1
    assert triggers.exists()


def test_every_run_reports_its_use_of_each_limit(tmp_path: Path) -> None:
    result, _, _ = _ingest(tmp_path, 'trigger_job("a")\ntrigger_job("b")\n')
    assert result.code == 0, result.output
    used = [line for line in result.stderr.splitlines() if line.startswith("used: ")]
    assert len(used) == 1
    for part in ("wall_seconds ", " of 10,", "cpu_seconds ", "memory_mb ", "of 1024,",
                 "max_jobs 2 of 1000", "max_output_bytes ", " of 8388608"):
        assert part in used[0]
    src = tmp_path / "src"
    plan = run_cli("plan", "--src", src, "--format", "json")
    usage = json.loads(plan.stdout)["usage"]
    assert usage["max_jobs"] == {"used": 2, "limit": 1000}
    assert usage["memory_mb"]["limit"] == 1024
    assert 0 < usage["memory_mb"]["used"] < 1024
    assert "empty network namespace" in usage["protections"]


def test_a_failed_run_reports_how_far_it_got(tmp_path: Path) -> None:
    policy = _policy(tmp_path, "p.toml", "[limits]\nmax_jobs = 3\n")
    result, _, _ = _ingest(tmp_path, 'for i in range(10):\n    trigger_job("j%d" % i)\n',
                           policy)
    assert result.code == 1, result.output
    used = [line for line in result.stderr.splitlines() if line.startswith("used: ")]
    assert len(used) == 1 and used[0].endswith("max_jobs 3 of 3"), used
    plan = run_cli("plan", "--src", tmp_path / "src", "--policy", policy, "--format", "json")
    assert plan.code == 1
    report = json.loads(plan.stdout)
    assert report["errors"][0]["message"] == "job limit of 3 jobs exceeded"
    assert report["usage"]["max_jobs"] == {"used": 3, "limit": 3}


# --- load --------------------------------------------------------------------------------

def test_load_can_be_disabled_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "a.star").write_text('load("b.star", "B")\nA = B\n', encoding="utf-8")
    (src / "lib" / "b.star").write_text('B = "b"\n', encoding="utf-8")
    pipeline = 'load("//lib/a.star", "A")\ntrigger_job("j", env = {"A": A})\n'
    result, star, triggers = _ingest(tmp_path, pipeline)
    assert result.code == 0, result.output
    assert json.loads(triggers.read_text())["jobs"][0]["env"] == {"A": "b"}
    triggers.unlink()
    off = _policy(tmp_path, "off.toml", "[load]\nenabled = false\n")
    result, star, _ = _ingest(tmp_path, pipeline, off)
    assert result.code == 1
    assert result.stderr.startswith(f"{star}:1:1: error: load() is disabled by the platform")
    one = _policy(tmp_path, "one.toml", "[load]\nmax_files = 1\n")
    result, _, triggers = _ingest(tmp_path, pipeline, one)
    assert result.code == 1
    assert "load limit of 1 files exceeded" in result.stderr
    assert not triggers.exists()


def test_check_lists_capabilities_for_review(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "guard.star").write_text(
        'def guarded(name):\n    return not is_job_running(name)\n', encoding="utf-8")
    star = src / "pipeline.star"
    star.write_text('load("lib/guard.star", "guarded")\nfiles = ctx.changed_files()\n'
                    'if guarded("deploy"):\n    trigger_job("deploy")\n', encoding="utf-8")
    policy = _policy(tmp_path, "p.toml", '[builtins]\ndisabled = ["is_job_running"]\n')
    result = run_cli("check", "--capabilities", "--policy", policy, star)
    assert result.code == 0, result.output
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert any(line.startswith("changed_files") for line in lines)
    assert any(line.startswith("trigger_job") for line in lines)
    assert any(line.startswith("is_job_running") and "disabled" in line for line in lines)
    assert not any(line.startswith("git_info") for line in lines)
    assert str(src / "lib" / "guard.star") in result.stdout


def test_check_lists_what_getattr_on_ctx_can_reach(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "pick.star").write_text(
        'def pick(c, name):\n    return getattr(c, name)\n', encoding="utf-8")
    star = src / "pipeline.star"
    star.write_text('load("lib/pick.star", "pick")\n'
                    'running = pick(ctx, "is_" + "job_running")("deploy")\n', encoding="utf-8")
    result = run_cli("check", "--capabilities", star)
    assert result.code == 0, result.output
    listed = {line.split()[0] for line in result.stdout.splitlines()[2:]
              if line.startswith("    ") and not line.startswith("    " + str(src))}
    assert {"is_job_running", "get_job_result", "changed_files", "git_info"} <= listed


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return src


def test_a_load_cycle_names_the_files_on_it(tmp_path: Path) -> None:
    src = _tree(tmp_path, {"a.star": 'load("b.star", "B")\nA = 1\n',
                           "b.star": 'load("//a.star", "A")\nB = 2\n'})
    result, _, triggers = _ingest(tmp_path, 'load("a.star", "A")\ntrigger_job("x")\n')
    assert result.code == 1, result.output
    assert f"load cycle: {src / 'a.star'} -> {src / 'b.star'} -> {src / 'a.star'}" in (
        result.stderr)
    assert "Traceback (most recent call last):\n  File" not in result.stderr
    assert not triggers.exists()


def test_loaded_files_run_once_with_the_same_builtins_and_limits(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "lib/common.star": 'trigger_job("setup")\nBRANCH = ctx.branch\n',
        "lib/one.star": 'load("common.star", "BRANCH")\nONE = BRANCH\n',
        "lib/two.star": 'load("//lib/common.star", "BRANCH")\nTWO = BRANCH\n',
        "lib/spin.star": "def spin():\n    for i in range(100000):\n"
                         "        for j in range(100000):\n            pass\n",
    })
    pipeline = ('load("lib/one.star", "ONE")\nload("lib/two.star", "TWO")\n'
                'trigger_job("build", depends_on = ["setup"], env = {"B": ONE + TWO})\n')
    result, _, triggers = _ingest(tmp_path, pipeline, env={"REACTORCIDE_BRANCH": "main"})
    assert result.code == 0, result.output
    jobs = json.loads(triggers.read_text())["jobs"]
    assert [job["job_name"] for job in jobs] == ["setup", "build"]
    assert jobs[1]["env"] == {"B": "mainmain"}
    triggers.unlink()
    policy = _policy(tmp_path, "p.toml", "[limits]\nwall_seconds = 1\n")
    result, _, triggers = _ingest(tmp_path, 'load("lib/spin.star", "spin")\nspin()\n', policy)
    assert result.code == 1
    assert "wall-clock limit of 1 s exceeded" in result.stderr
    assert not triggers.exists()


PARENT_REFUSALS: dict[str, tuple[tuple[str, ...], tuple[str, str], bool]] = {
    # disabled builtins, the call the child makes, refused by the parent?
    "nothing disabled": ((), ("git", "changes"), False),
    "changes disabled": (("changes",), ("git", "changes"), True),
    "changed_files alone: the glob builtins still need the call": (
        ("changed_files",), ("git", "changed_files"), False),
    "every builtin that lists changed files": (
        ("changed_files", "changes_include", "changes_only"), ("git", "changed_files"), True),
    "git_info": (("git_info",), ("git", "info"), True),
    "the coordinator lookups": (("is_job_running",), ("job_state", "is_job_running"), True),
}


@pytest.mark.parametrize("disabled, call, refused", PARENT_REFUSALS.values(),
                         ids=PARENT_REFUSALS.keys())
def test_the_parent_refuses_what_only_disabled_builtins_ask(
        disabled: tuple[str, ...], call: tuple[str, str], refused: bool) -> None:
    # The child enforces the policy, but the parent answers as if it had not: a child
    # that asked anyway gets nothing the policy forbids.
    from engine.capabilities.coordinator.memory import StaticJobState
    from engine.capabilities.git.memory import StaticGit
    from engine.sandbox.broker import HostServices, PrintSink

    services = HostServices(StaticGit(changes=[]), StaticJobState(), PrintSink(None, 100),
                            disabled=disabled)
    args: list[Any] = ["x"] if call[0] == "job_state" else (
        [None] if call[1] == "info" else ["HEAD^", "HEAD", None])
    if refused:
        with pytest.raises(CapabilityError, match="disabled by the platform's policy"):
            services.answer(*call, args)
    else:
        services.answer(*call, args)
