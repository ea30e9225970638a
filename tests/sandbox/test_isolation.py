"""What pipeline code can reach: no token, no host functions, no hidden helpers.

Runs the real CLI with the API token set to a marker and checks that no pipeline
can bring the marker into the output or into any written file.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli
from tests.support.gitrepo import GitRepo

MARKER = "tok-MARKER-9f3"
TOKEN_VAR = "REACTORCIDE_API_TOKEN"
URL_VAR = "REACTORCIDE_COORDINATOR_URL"


def run_in(repo: GitRepo, triggers: Path, env: dict[str, str] | None = None,
           *extra: str) -> Result:
    """Run the CLI on `repo`'s pipeline with the marker as the API token."""
    full_env = {TOKEN_VAR: MARKER, **(env or {})}
    return run_cli(
        "--src", repo.path, "--triggers-file", triggers, *extra, env=full_env, timeout=120
    )


def assert_marker_nowhere(result: Result, root: Path) -> None:
    """The marker is in neither output stream nor in any file under `root`."""
    assert MARKER not in result.output
    for path in root.rglob("*"):
        if path.is_file():
            assert MARKER.encode() not in path.read_bytes(), path


@pytest.fixture
def repo_with(git_repo_factory: Callable[..., GitRepo]) -> Callable[[str], GitRepo]:
    """A real git repository whose committed pipeline.star is the given text."""

    def build(text: str) -> GitRepo:
        return git_repo_factory([{"README.md": "hello\n"}, {"pipeline.star": text}])

    return build


# --- the token never reaches the sandbox ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["print(dir(ctx))\n", "print(git_info())\n", "print(str(ctx))\n",
     'print(ctx.job_id, ctx.branch, ctx.commit, ctx.ref)\n'],
    ids=["dir-ctx", "git-info", "str-ctx", "ctx-fields"],
)
def test_printing_context_and_git_shows_no_token(
    repo_with: Callable[[str], GitRepo], tmp_path: Path, text: str
) -> None:
    repo = repo_with(text)
    triggers = tmp_path / "out.json"

    result = run_in(repo, triggers)

    assert result.code == 0, result.output
    assert result.stderr.strip() != ""
    assert MARKER not in result.output
    # Pipeline output is redacted by the parent: a redaction would mean the sandbox had it.
    assert "[redacted]" not in result.output
    assert not triggers.exists()
    assert_marker_nowhere(result, tmp_path)


def test_print_of_ctx_itself_works_and_shows_no_token(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = repo_with("print(ctx)\n")

    result = run_in(repo, tmp_path / "out.json")

    assert result.code == 0, result.output
    assert "job_id" in result.stderr
    assert MARKER not in result.output
    assert "[redacted]" not in result.output


def test_dir_of_ctx_lists_only_public_names(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = repo_with('for name in dir(ctx):\n    print(name)\n')

    result = run_in(repo, tmp_path / "out.json")

    assert result.code == 0, result.output
    names = result.stderr.splitlines()
    assert "trigger_job" in names
    assert [n for n in names if n.startswith("_") or n in ("call_stack", "token")] == []


def test_failure_message_with_ctx_shows_no_token(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = repo_with("fail(str(ctx) + str(git_info()))\n")

    result = run_in(repo, tmp_path / "out.json")

    assert result.code == 1
    assert "struct(" in result.stderr
    assert "[redacted]" not in result.output
    assert_marker_nowhere(result, tmp_path)


def test_written_file_holds_no_token(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = repo_with(
        'trigger_job("probe", env = {"CTX": str(ctx), "GIT": str(git_info()), '
        '"DIR": str(dir(ctx))})\n'
    )
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()

    result = run_in(repo, triggers)

    assert result.code == 0, result.output
    data = triggers.read_bytes()
    assert b'"probe"' in data and b"struct(" in data
    assert b"[redacted]" not in data
    assert_marker_nowhere(result, tmp_path)


COORDINATOR_PROBES = [
    'is_job_running("deploy")\n',
    'get_job_result("test")\n',
    'fail(str(get_job_result("test")))\n',
]


@pytest.mark.parametrize("text", COORDINATOR_PROBES, ids=["running", "result", "fail"])
def test_coordinator_refusing_the_token_does_not_show_it(
    repo_with: Callable[[str], GitRepo],
    tmp_path: Path,
    coordinator: FakeCoordinator,
    text: str,
) -> None:
    repo = repo_with(text)
    env = {URL_VAR: coordinator.url, "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]}

    result = run_in(repo, tmp_path / "out.json", env)

    assert result.code == 1, result.output
    assert "401" in result.stderr
    # The marker really was the token sent, so its absence from the output means something.
    sent = {r.headers.get("authorization") for r in coordinator.requests}
    assert sent == {f"Bearer {MARKER}"}
    assert_marker_nowhere(result, tmp_path)


@pytest.mark.parametrize("text", COORDINATOR_PROBES, ids=["running", "result", "fail"])
def test_plain_http_coordinator_error_does_not_show_the_token(
    repo_with: Callable[[str], GitRepo],
    tmp_path: Path,
    http_coordinator: FakeCoordinator,
    text: str,
) -> None:
    repo = repo_with(text)

    result = run_in(repo, tmp_path / "out.json", {URL_VAR: http_coordinator.url})

    assert result.code != 0
    assert "http" in result.stderr
    assert http_coordinator.requests == []
    assert_marker_nowhere(result, tmp_path)


def test_unreachable_coordinator_error_does_not_show_the_token(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repo = repo_with('is_job_running("deploy")\n')

    result = run_in(repo, tmp_path / "out.json", {URL_VAR: f"https://127.0.0.1:{port}"})

    assert result.code == 1, result.output
    assert_marker_nowhere(result, tmp_path)


# --- names a pipeline must not see ----------------------------------------------------------

HIDDEN_NAMES = ["call_stack", "_emit", "_context", "open", "getenv", "environ", "time",
                "random", "os", "sys", "exec", "eval", "__import__", "token"]


@pytest.mark.parametrize("name", HIDDEN_NAMES)
def test_name_does_not_exist_in_a_pipeline(tmp_path: Path, name: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pipeline = src / "pipeline.star"
    pipeline.write_text(f'trigger_job("a")\nx = {name}\n', encoding="utf-8")
    triggers = tmp_path / "out.json"

    result = run_cli("--src", src, "--triggers-file", triggers, timeout=120)

    assert result.code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{pipeline}:2:5: error: ")
    assert f"`{name}` not found" in first
    assert not triggers.exists()


LOAD_ESCAPES = {
    "absolute path": ("/etc/passwd.star", "absolute paths are not allowed"),
    "parent directory": ("../pipeline.star", "leaves the source directory"),
    "parent through //": ("//../outside.star", "leaves the source directory"),
    "label form": ("//lib:defs.star", "only files inside the source directory"),
    "repository form": ("@engine//prelude.star", "only files inside the source directory"),
    "not a .star file": ("lib.txt", "only .star files"),
    "link to outside": ("link.star", "link to a file outside"),
    "missing file": ("nope.star", "does not exist"),
    "a file too large to load": ("big.star", "larger than 4 MiB"),
}

EXISTING = b'{"type": "trigger_job", "operation_id": "before", "jobs": []}\n'


@pytest.mark.parametrize("module, needle", LOAD_ESCAPES.values(), ids=LOAD_ESCAPES.keys())
def test_load_outside_the_source_is_refused(tmp_path: Path, module: str, needle: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "outside.star").write_text("x = 1\n", encoding="utf-8")
    (src / "lib.txt").write_text("x = 1\n", encoding="utf-8")
    (src / "link.star").symlink_to(tmp_path / "outside.star")
    (src / "big.star").write_text("x = 1\n" + "#" * (4 * 1024 * 1024), encoding="utf-8")
    pipeline = src / "pipeline.star"
    pipeline.write_text(f'load("{module}", "x")\ntrigger_job("a")\n', encoding="utf-8")
    triggers = tmp_path / "out.json"
    triggers.write_bytes(EXISTING)

    result = run_cli("--src", src, "--triggers-file", triggers, timeout=120)

    assert result.code == 1, result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{pipeline}:1:1: error: cannot load "), first
    assert needle in first
    assert triggers.read_bytes() == EXISTING


PIPELINE_FILES = {
    # how the repository's pipeline.star is made, what is said
    "a link to the engine's environment": (
        lambda src, outside: (src / "pipeline.star").symlink_to("/proc/self/environ"),
        "link to a file outside the source directory"),
    "a link to a file outside": (
        lambda src, outside: (src / "pipeline.star").symlink_to(outside),
        "link to a file outside the source directory"),
    "a file too large": (
        lambda src, outside: (src / "pipeline.star").write_bytes(
            b"x = 1\n" + b"#" * (4 * 1024 * 1024)),
        "larger than 4 MiB"),
}


@pytest.mark.parametrize("make, needle", PIPELINE_FILES.values(), ids=PIPELINE_FILES.keys())
def test_a_pipeline_file_the_engine_must_not_read(tmp_path: Path, make: Any,
                                                  needle: str) -> None:
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "outside.star"
    outside.write_text('trigger_job("SECRET-OUTSIDE")\n', encoding="utf-8")
    make(src, outside)
    triggers = tmp_path / "out.json"
    triggers.write_bytes(EXISTING)

    result = run_cli("--src", src, "--triggers-file", triggers,
                        env={"MARKER_VAR": "marker-value-1"}, timeout=120)

    assert result.code == 2, result.output
    assert needle in result.stderr
    assert "marker-value-1" not in result.output and "SECRET-OUTSIDE" not in result.output
    assert triggers.read_bytes() == EXISTING


def test_a_file_loaded_under_two_names_is_evaluated_once(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "lib" / "setup.star").write_text('SETUP = trigger_job("setup")\n', encoding="utf-8")
    (src / "alias.star").symlink_to(src / "lib" / "setup.star")
    (src / "pipeline.star").write_text(
        'load("lib/setup.star", "SETUP")\nload("alias.star", S2 = "SETUP")\n'
        'trigger_job("b", depends_on = [S2], env = {"SAME": str(S2 == SETUP)})\n',
        encoding="utf-8")
    triggers = tmp_path / "out.json"

    result = run_cli("--src", src, "--triggers-file", triggers, timeout=120)

    assert result.code == 0, result.output
    jobs = json.loads(triggers.read_text("utf-8"))["jobs"]
    assert [job["job_name"] for job in jobs] == ["setup", "b"]
    assert jobs[1]["env"] == {"SAME": "True"}


# --- print -----------------------------------------------------------------------------------

PRINTS_THEN_FAIL = """\
print("first")
def helper():
    print("second", 2)
    trigger_job("a")
helper()
print("third")
fail("boom")
"""


def test_prints_go_to_stderr_in_order_even_when_the_pipeline_fails(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    pipeline = src / "pipeline.star"
    pipeline.write_text(PRINTS_THEN_FAIL, encoding="utf-8")
    triggers = tmp_path / "out.json"

    result = run_cli("--src", src, "--triggers-file", triggers, timeout=120)

    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[:3] == ["first", "second 2", "third"]
    assert lines[3].startswith(f"{pipeline}:7:")
    assert "boom" in lines[3]
    assert not triggers.exists()


def test_prints_go_to_stderr_not_stdout_on_success(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(
        'print("before")\ntrigger_job("a")\nprint("after")\n', encoding="utf-8"
    )
    triggers = tmp_path / "out.json"

    result = run_cli("--src", src, "--triggers-file", triggers, timeout=120)

    assert result.code == 0, result.output
    assert result.stderr.splitlines()[:2] == ["before", "after"]
    assert "before" not in result.stdout and "after" not in result.stdout
    assert "wrote 1 job to" in result.stdout


# --- determinism -----------------------------------------------------------------------------

DETERMINISTIC = """\
info = git_info()
changed = changed_files("HEAD^", "HEAD")
trigger_job("build", env = {"ZED": "1", "ALPHA": info["commit"], "MID": ctx.branch})
trigger_job("test", depends_on = ["build"], env = {"FILES": ",".join(changed)},
            priority = 3, timeout = 60)
ctx.trigger_job("deploy", depends_on = ["test", "build"], condition = "always",
                characteristics = {"zone": "b", "arch": "x86"})
"""


def test_same_pipeline_gives_byte_identical_triggers_files(
    repo_with: Callable[[str], GitRepo], tmp_path: Path
) -> None:
    repo = repo_with(DETERMINISTIC)
    first = tmp_path / "one" / "triggers.json"
    second = tmp_path / "two" / "triggers.json"
    first.parent.mkdir()
    second.parent.mkdir()
    env = {"REACTORCIDE_JOB_ID": "job-42"}

    results = [run_in(repo, path, env) for path in (first, second)]

    for result in results:
        assert result.code == 0, result.output
    data = first.read_bytes()
    assert b'"deploy"' in data and repo.head().encode() in data
    assert second.read_bytes() == data
