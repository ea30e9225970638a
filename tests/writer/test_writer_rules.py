"""The writer's rules in-process: what an existing file must be, the exact bytes written,
and the errors of a file or directory that cannot be used."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.core.diagnostics import Location, UsageError
from engine.core.jobs import Job
from engine.core.validate import JobRules
from engine.triggers.document import write_jobs
from engine.triggers.file import (
    job_text,
    locked,
    parse_existing,
    read_bytes,
    read_existing,
    render,
    render_texts,
    render_workflows,
)
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


# Existing files refused for a reason the table above words only in part: the whole message.
REFUSED_WHOLE = {
    "broken JSON": (b"{", "not JSON: Expecting property name enclosed in double quotes: "
                    "line 1 column 2 (char 1)"),
    "NaN": (b'{"type": "trigger_job", "jobs": [], "x": NaN}', "not JSON: NaN is not a JSON "
            "number"),
    "-Infinity": (b"[-Infinity]", "not JSON: -Infinity is not a JSON number"),
    "overflowing number": (b'{"jobs": [1e999]}', "not JSON: number 1e999 is out of range"),
    "long overflowing number": (b"[" + b"9" * 30 + b"e999]",
                                "not JSON: number 99999999999999999999 is out of range"),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),
    "other trigger type": (b'{"type": "trigger_job", "trigger_type": "eval", "jobs": []}',
                           '"trigger_type" must be "runnerlib"'),
}


@pytest.mark.parametrize(("content", "reason"), REFUSED_WHOLE.values(), ids=REFUSED_WHOLE.keys())
def test_an_invalid_existing_file_is_refused_in_these_words(content: bytes, reason: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_existing(content, "out/triggers.json")
    assert caught.value.diagnostics[0].message == (
        f"existing triggers file is not valid ({reason}); it was left untouched")


def test_jobs_already_in_the_file_meet_the_current_policy(tmp_path: Path) -> None:
    path = tmp_path / "triggers.json"
    job = {"job_name": "a", "depends_on": [], "condition": "all_success", "env": {},
           "priority": 50}
    path.write_bytes(render("op-1", [job]))

    assert read_existing(str(path)) is not None  # acceptable to the coordinator
    with pytest.raises(UsageError) as caught:
        read_existing(str(path), JobRules(max_priority=10))
    assert caught.value.diagnostics[0].message == (
        'existing triggers file is not valid (jobs[0]: job "a": priority 50 is above the '
        "policy's maximum of 10 (jobs.max_priority)); it was left untouched")


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


class _Name(str):
    """A str subclass: the renderer hands a job holding one to json.dumps itself."""


DOCUMENT_JOBS: list[dict[str, Any]] = [
    {"job_name": "é", "depends_on": [], "condition": "all_success", "env": {"K": "v"}},
    {"job_name": "b", "depends_on": ["é"], "condition": "always", "env": {},
     "priority": 5, "resources": {"cpu": 1.5, "gpu": True, "limits": {"m": ["1G", None]}}},
    {"job_name": _Name("c"), "depends_on": [], "condition": "any_failed",
     "env": {"Q": "\"\n\u2028"}, "capabilities": ["x", "y"]},
]


@pytest.mark.parametrize("count", range(len(DOCUMENT_JOBS) + 1))
def test_jobs_rendered_one_by_one_make_the_bytes_of_the_whole_document(count: int) -> None:
    # The engine renders each job's text as it arrives and puts the document together at
    # the end: the bytes are those of the whole document rendered at once.
    jobs = DOCUMENT_JOBS[:count]
    whole = {"type": "trigger_job", "trigger_type": "runnerlib", "operation_id": "id",
             "jobs": jobs}
    expected = (json.dumps(whole, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    assert render("id", jobs) == expected
    assert render_texts("id", [job_text(job) for job in jobs]) == expected


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


def test_a_path_that_cannot_be_opened_says_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    (tmp_path / "loop-a").symlink_to("loop-b")
    (tmp_path / "loop-b").symlink_to("loop-a")
    cases = {
        str(tmp_path / "file" / "triggers.json"): "Not a directory",
        str(tmp_path / "loop-a"): "Too many levels of symbolic links",
    }
    for path, reason in cases.items():
        with pytest.raises(UsageError) as caught:
            read_bytes(path)
        (diagnostic,) = caught.value.diagnostics
        assert (diagnostic.location.file, diagnostic.message) == (
            path, f"cannot read the triggers file: {reason}")


def test_a_link_at_the_triggers_path_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real" / "triggers.json"
    real.parent.mkdir()
    link = tmp_path / "out" / "triggers.json"
    link.parent.mkdir()
    link.symlink_to(os.path.join("..", "real", "triggers.json"))
    where = Location("pipeline.star")
    job = Job("a", {"job_name": "a", "depends_on": [], "condition": "all_success", "env": {}},
              where)

    written = write_jobs(str(link), [job], job_id=None, commit=None, max_output_bytes=1 << 20,
                         where=where)

    assert written.written and written.document is not None
    assert link.is_symlink() and os.readlink(link) == os.path.join("..", "real", "triggers.json")
    assert real.read_bytes() == written.document
    assert sorted(p.name for p in link.parent.iterdir()) == ["triggers.json"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["triggers.json"]


# What an attacker might plant where the temporary file goes, once its name is guessed.
PLANTED: dict[str, Callable[[Path, Path], object]] = {
    "link to a file": lambda tmp, victim: tmp.symlink_to(victim),
    "dangling link": lambda tmp, victim: tmp.symlink_to(victim.with_name("created")),
    "plain file": lambda tmp, victim: tmp.write_bytes(b"planted"),
}


@pytest.mark.parametrize("plant", PLANTED.values(), ids=PLANTED.keys())
def test_nothing_planted_at_a_guessed_temporary_name_is_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plant: Callable[[Path, Path], object],
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = tmp_path / "out" / "triggers.json"
    target.parent.mkdir()
    monkeypatch.setattr(os, "urandom", lambda n: b"\x01" * n)  # the name an attacker guessed
    planted = target.parent / f".triggers.json.{'01' * 8}.tmp"
    plant(planted, victim)
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(UsageError) as caught:
        write(str(target), b"{}\n")

    assert caught.value.diagnostics[0].message == "cannot write the triggers file: File exists"
    assert victim.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing created
    assert [p.name for p in target.parent.iterdir()] == [planted.name]  # nor removed
    assert not target.exists()


def test_the_workflows_form_in_exact_bytes() -> None:
    job = {"job_name": "é", "depends_on": [], "condition": "all_success", "env": {}}
    batches: list[dict[str, Any]] = [
        {"jobs": [job]}, {"name": "release", "vars": {"V": "1"}, "jobs": [job]}]
    assert render_workflows("id", batches) == (
        '{\n  "type": "trigger_job",\n  "trigger_type": "runnerlib",\n'
        '  "operation_id": "id",\n  "workflows": [\n    {\n      "jobs": [\n        {\n'
        '          "job_name": "é",\n          "depends_on": [],\n'
        '          "condition": "all_success",\n          "env": {}\n        }\n      ]\n'
        '    },\n    {\n      "name": "release",\n      "vars": {\n        "V": "1"\n'
        '      },\n      "jobs": [\n        {\n          "job_name": "é",\n'
        '          "depends_on": [],\n          "condition": "all_success",\n'
        '          "env": {}\n        }\n      ]\n    }\n  ]\n}\n').encode()
    with pytest.raises(ValueError, match="not JSON compliant"):
        render_workflows("id", [{"jobs": [{**job, "priority": float("nan")}]}])


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
