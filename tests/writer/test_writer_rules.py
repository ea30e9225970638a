"""The writer's rules in-process: what an existing file must be, the exact bytes written,
and the errors of a file or directory that cannot be used."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.core.diagnostics import UsageError
from engine.triggers.file import locked, parse_existing, read_bytes, read_existing, render
from engine.triggers.file import write_atomic as write
from tests.writer.test_triggers_file import CORRUPT

# A phrase of the reason each corrupt file is refused for, by the table's id.
REASONS = {
    "empty": "not JSON: ", "not json": "not JSON: ", "truncated": "not JSON: ",
    "not utf-8": "not JSON: ", "json list": "not a JSON object",
    "json string": "not a JSON object", "json null": "not a JSON object",
    "version key": "unexpected key 'version'", "unknown top-level key": "unexpected key 'extra'",
    "wrong type": '"type" must be "trigger_job"', "missing type": '"type" must be "trigger_job"',
    "jobs not a list": '"jobs" must be a list', "jobs missing": '"jobs" must be a list',
    "operation_id int": '"operation_id" must be a string',
    "job not an object": "jobs[0] is not an object", "job without name": "jobs[0]: ",
    "job env not string": "jobs[0]: ", "job reserved env": "jobs[0]: ",
    "job bad condition": "jobs[0]: ", "job priority bool": "jobs[0]: ",
    "job forbidden org": "jobs[0]: ", "duplicate job": 'job "x" appears twice',
}


@pytest.mark.parametrize(("name", "content"), CORRUPT, ids=[n for n, _ in CORRUPT])
def test_an_invalid_existing_file_is_refused_with_its_reason(name: str, content: bytes) -> None:
    with pytest.raises(UsageError) as caught:
        parse_existing(content, "out/triggers.json")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.location.file == "out/triggers.json"
    reason = REASONS[name]
    if reason.endswith(": "):  # the rest is the parser's or the job rule's own words
        assert diagnostic.message.startswith(f"existing triggers file is not valid ({reason}")
        assert diagnostic.message.endswith("); it was left untouched")
    else:
        assert diagnostic.message == (
            f"existing triggers file is not valid ({reason}); it was left untouched")


def test_an_invalid_file_on_disk_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "triggers.json"
    path.write_bytes(b"[]")
    with pytest.raises(UsageError) as caught:
        read_existing(str(path))
    assert caught.value.diagnostics[0].location.file == str(path)


def test_a_valid_existing_file_is_read_with_its_id_and_jobs(tmp_path: Path) -> None:
    path = tmp_path / "triggers.json"
    job = {"job_name": "a", "depends_on": [], "condition": "all_success", "env": {}}
    path.write_bytes(render("op-1", [job, {**job, "job_name": "b"}]))
    existing = read_existing(str(path))
    assert existing is not None
    assert existing.operation_id == "op-1"
    assert existing.names == ["a", "b"]
    assert read_existing(str(tmp_path / "absent.json")) is None
    no_id = parse_existing(b'{"type": "trigger_job", "jobs": []}', "f")
    assert (no_id.operation_id, no_id.jobs) == (None, [])


def test_the_exact_bytes_of_a_document() -> None:
    job = {"job_name": "é", "depends_on": [], "condition": "all_success", "env": {"K": "v"}}
    assert render("id", [job]) == (
        '{\n  "type": "trigger_job",\n  "trigger_type": "runnerlib",\n'
        '  "operation_id": "id",\n  "jobs": [\n    {\n'
        '      "job_name": "é",\n      "depends_on": [],\n      "condition": "all_success",\n'
        '      "env": {\n        "K": "v"\n      }\n    }\n  ]\n}\n').encode()


def test_files_and_directories_that_cannot_be_used_say_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "triggers.json"
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: read_bytes(str(tmp_path)),
         "existing triggers file is not a regular file; it was left untouched"),
        (lambda: write(str(missing), b"{}"),
         "cannot write the triggers file: No such file or directory"),
        (lambda: locked(str(missing)).__enter__(),
         "cannot open the triggers file's directory: No such file or directory"),
    ]
    for action, message in cases:
        with pytest.raises(UsageError) as caught:
            action()
        assert caught.value.diagnostics[0].message == message
        assert caught.value.diagnostics[0].location.file in (str(tmp_path), str(missing))


def test_the_lock_is_exclusive_on_the_directory_and_released(tmp_path: Path) -> None:
    path = tmp_path / "triggers.json"
    probe = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with locked(str(path)), pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again
    finally:
        os.close(probe)


def test_a_relative_path_in_the_current_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with locked("triggers.json"):
        write("triggers.json", b"{}\n")
    assert (tmp_path / "triggers.json").read_bytes() == b"{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triggers.json"]


def test_a_link_planted_where_the_temporary_goes_is_never_written_through(
    tmp_path: Path,
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = tmp_path / "out" / "triggers.json"
    target.parent.mkdir()
    (target.parent / f".triggers.json.{os.getpid()}.tmp").symlink_to(victim)
    # Refusing is one correct outcome; writing the document elsewhere is the other.
    with contextlib.suppress(UsageError):
        write(str(target), b"{}\n")
    assert victim.read_bytes() == b"keep"
