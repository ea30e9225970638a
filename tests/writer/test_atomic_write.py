"""A reader never sees half a triggers file: judged by what a reader can observe.

The writer is slowed down in the middle of writing (its `os.write` pauses after the first
chunk until the test has looked), and the test reads the target at that moment.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from engine.core.diagnostics import UsageError
from engine.triggers import file as triggers_file
from engine.triggers.file import write_atomic

OLD = b'{"type": "trigger_job", "operation_id": "old", "jobs": []}\n'
NEW = b'{"type": "trigger_job", "operation_id": "new", "jobs": [' + b" " * 70_000 + b"]}\n"
CHUNK = 4096


class _PausingOs:
    """The `os` module, except that `write` writes one chunk at a time and, after each,
    waits until the test has looked at the target."""

    def __init__(self) -> None:
        self.paused: queue.Queue[str] = queue.Queue()
        self.resume: queue.Queue[None] = queue.Queue()
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def write(self, fd: int, data: Any) -> int:
        written = os.write(fd, bytes(data[:CHUNK]))
        self.writes += 1
        self.paused.put("mid-write")
        self.resume.get(timeout=30)
        return written


@pytest.fixture
def pausing_os(monkeypatch: pytest.MonkeyPatch) -> _PausingOs:
    fake = _PausingOs()
    monkeypatch.setattr(triggers_file, "os", fake)
    return fake


def _write_watched(target: Path, pausing_os: _PausingOs) -> list[bytes | None]:
    """Run the writer in a thread; at each of its pauses, read the target."""
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            write_atomic(str(target), NEW)
        except BaseException as err:  # shown by the main thread
            errors.append(err)
        finally:
            pausing_os.paused.put("done")

    seen: list[bytes | None] = []
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while pausing_os.paused.get(timeout=30) != "done":
            seen.append(target.read_bytes() if target.exists() else None)
            # The document being written is a temporary file beside the target, named
            # with 64 random bits, so that its name cannot be guessed.
            beside = [p.name for p in target.parent.iterdir() if p.name != target.name]
            assert len(beside) == 1, beside
            assert re.fullmatch(rf"\.{re.escape(target.name)}\.[0-9a-f]{{16}}\.tmp", beside[0])
            pausing_os.resume.put(None)
    finally:
        for _ in range(1000):  # never leave the writer blocked
            pausing_os.resume.put(None)
        thread.join(30)
    assert not errors, errors
    return seen


def test_a_reader_mid_write_sees_the_old_file_whole(tmp_path: Path,
                                                    pausing_os: _PausingOs) -> None:
    target = tmp_path / "triggers.json"
    target.write_bytes(OLD)

    seen = _write_watched(target, pausing_os)

    assert len(seen) > 1  # the document really was written in several pieces
    assert set(seen) == {OLD}
    assert target.read_bytes() == NEW
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triggers.json"]


def test_the_file_is_replaced_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "triggers.json"
    target.write_bytes(OLD)
    before = os.stat(target).st_ino
    with open(target, "rb") as reader:  # a reader that opened the file before the write
        write_atomic(str(target), NEW)
        assert reader.read() == OLD
    assert os.stat(target).st_ino != before
    assert target.read_bytes() == NEW


def test_a_new_file_appears_whole_with_no_temporary_left(tmp_path: Path,
                                                         pausing_os: _PausingOs) -> None:
    target = tmp_path / "triggers.json"
    seen = _write_watched(target, pausing_os)

    assert seen and set(seen) == {None}
    assert target.read_bytes() == NEW
    assert [p.name for p in tmp_path.iterdir()] == ["triggers.json"]
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    target = tmp_path / "triggers.json"
    target.write_bytes(OLD)

    class _FullDisk(ModuleType):
        def __getattr__(self, name: str) -> Any:
            return getattr(os, name)

        @staticmethod
        def fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(triggers_file, "os", _FullDisk("os"))
    with pytest.raises(UsageError) as caught:
        write_atomic(str(target), NEW)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.location.file, diagnostic.message) == (
        str(target), "cannot write the triggers file: No space left on device")
    assert target.read_bytes() == OLD
    assert [p.name for p in tmp_path.iterdir()] == ["triggers.json"]
