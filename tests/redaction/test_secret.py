"""The Secret itself: what each of its ways out gives, every spelling it scrubs, and the
copy of the token the process started with, zeroed where `/proc/PID/environ` shows it."""

from __future__ import annotations

import ast
import os
import select
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.common.secret import (
    TOKEN_VAR,
    Secret,
    erase_initial_entry,
    initial_environment_span,
    redact,
    take_token,
    zero_entries,
)

# Its raw, URL-encoded and fully encoded spellings all differ.
TOKEN = "tok/SECRET+9f3=q~x"
ENCODED = "tok/SECRET%2B9f3%3Dq~x"
FULLY_ENCODED = "tok%2FSECRET%2B9f3%3Dq~x"

REDACTED: list[tuple[str, str, bool, str]] = [
    # token, text, cut, the text as written
    (TOKEN, f"a {TOKEN} b", False, "a [redacted] b"),
    (TOKEN, f"a {ENCODED} b {FULLY_ENCODED}", False, "a [redacted] b [redacted]"),
    (TOKEN, "no token here", True, "no token here"),
    # A cut excerpt loses a trailing piece of four characters or more, up to all but one.
    (TOKEN, f"x {TOKEN[:-1]}", True, "x [redacted]"),
    (TOKEN, f"x {TOKEN[:4]}", True, "x [redacted]"),
    (TOKEN, f"x {TOKEN[:3]}", True, f"x {TOKEN[:3]}"),
    (TOKEN, f"x {FULLY_ENCODED[:-2]}", True, "x [redacted]"),
    # Only an excerpt is cut: elsewhere a text ending like the token is the text.
    (TOKEN, f"x {TOKEN[:-1]}", False, f"x {TOKEN[:-1]}"),
    # A spelling inside a longer one: the longer one goes whole.
    ("key%", "k key%25 k", False, "k [redacted] k"),
    ("", "nothing to find", True, "nothing to find"),
    # Any value is scrubbed, even one no header could carry: its spelling with both a
    # blank and a slash encoded is the fully encoded one alone.
    ("to /ken", "a to%20%2Fken b to+%2Fken c to%20/ken", False,
     "a [redacted] b [redacted] c [redacted]"),
]


@pytest.mark.parametrize(("token", "text", "cut", "written"), REDACTED)
def test_every_spelling_is_scrubbed(token: str, text: str, cut: bool, written: str) -> None:
    assert Secret(token).redact(text, cut=cut) == written
    assert redact(text, Secret(token), cut=cut) == written


def test_redaction_cuts_only_when_asked_and_needs_a_secret() -> None:
    text = f"x {TOKEN[:-1]}"
    assert Secret(TOKEN).redact(text) == text
    assert redact(text, Secret(TOKEN)) == text
    assert redact(text, None) == text
    assert redact(text, None, cut=True) == text


def test_decoded_json_is_scrubbed_everywhere_keys_included() -> None:
    data = {TOKEN: [TOKEN, 1, None, True, {"k": f"x {ENCODED}"}], "n": 2.5}
    assert Secret(TOKEN).redact_deep(data) == {
        "[redacted]": ["[redacted]", 1, None, True, {"k": "x [redacted]"}], "n": 2.5}


HEADER_PROBLEMS: list[tuple[str, str | None]] = [
    (TOKEN, None),
    ("!~", None),
    ("", "is empty"),
    ("tok en", "contains whitespace, control or non-ASCII characters"),
    ("tok\x7f", "contains whitespace, control or non-ASCII characters"),
    ("tok\x1f", "contains whitespace, control or non-ASCII characters"),
    ("tok\u00e9", "contains whitespace, control or non-ASCII characters"),
]


@pytest.mark.parametrize(("token", "problem"), HEADER_PROBLEMS)
def test_what_cannot_travel_in_a_header_is_named_without_showing_it(
    token: str, problem: str | None,
) -> None:
    assert Secret(token).header_problem() == problem


def test_the_ways_out_of_a_secret() -> None:
    secret = Secret(TOKEN)
    assert Secret.of(secret) is secret
    assert Secret.of(TOKEN).value == TOKEN
    assert secret.authorization() == f"Bearer {TOKEN}"
    assert Secret("abcdef").memory_halves() == (b"abc", b"def")
    assert Secret("abcde").memory_halves() == (b"ab", b"cde")
    assert Secret("\u00e9t\u00e9").memory_halves() == (b"\xc3\xa9", b"t\xc3\xa9")


# --- the environment block the process started with -----------------------------------

ZEROED: list[tuple[bytes, str, bytes, bool]] = [
    # block, name, the block afterwards, whether an entry was found
    (b"PATH=/bin\0HOME=/root\0", "PATH", b"\0" * 9 + b"\0HOME=/root\0", True),
    (b"A=1\0PATH=/bin\0B=2\0", "PATH", b"A=1\0" + b"\0" * 9 + b"\0B=2\0", True),
    (b"XPATH=1\0PATH=2\0", "PATH", b"XPATH=1\0" + b"\0" * 6 + b"\0", True),
    (b"A=PATH=3\0B=4\0", "PATH", b"A=PATH=3\0B=4\0", False),
    (b"PATH=1\0PATH=2\0PATH=3\0", "PATH", b"\0" * 21, True),
    (b"A=1\0PATH=cut", "PATH", b"A=1\0" + b"\0" * 8, True),
    (b"A=1\0B=2\0", "PATH", b"A=1\0B=2\0", False),
    (b"PATHX=1\0", "PATH", b"PATHX=1\0", False),
]


@pytest.mark.parametrize(("block", "name", "after", "found"), ZEROED)
def test_exactly_the_named_entries_are_zeroed(tmp_path: Path, block: bytes, name: str,
                                             after: bytes, found: bool) -> None:
    memory = tmp_path / "memory"
    memory.write_bytes(b"HEAD" + block + b"TAIL")
    fd = os.open(memory, os.O_RDWR)
    try:
        assert zero_entries(fd, (4, 4 + len(block)), name) is found
    finally:
        os.close(fd)
    assert memory.read_bytes() == b"HEAD" + after + b"TAIL"


def _mem() -> bytes:
    span = initial_environment_span()
    assert span is not None
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        return os.pread(fd, span[1] - span[0], span[0])
    finally:
        os.close(fd)


def _in_a_fork(action: Callable[[], Any]) -> Any:
    """`action()` run in a forked copy of this process, which may change its own memory
    and name freely; its result (a repr-able value) or its exception's repr."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running anything of pytest's
        try:
            os.close(reader)
            try:
                answer = repr(action())
            except BaseException as err:  # reported to the parent
                answer = repr(f"raised {err!r}")
            os.write(writer, answer.encode())
        finally:
            os._exit(0)
    os.close(writer)
    try:
        ready, _, _ = select.select([reader], [], [], 60)
        if not ready:
            os.kill(pid, signal.SIGKILL)
        chunks = []
        while chunk := os.read(reader, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(reader)
        os.waitpid(pid, 0)
    assert ready, "the forked process did not answer"
    return ast.literal_eval(b"".join(chunks).decode())


needs_proc = pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")


@needs_proc
def test_the_block_found_is_what_proc_shows() -> None:
    assert _mem() == Path("/proc/self/environ").read_bytes()


@needs_proc
def test_a_process_named_with_parentheses_still_finds_its_block() -> None:
    # /proc/PID/stat shows the name in parentheses; the numbers follow the last ")".
    expected = initial_environment_span()

    def renamed() -> Any:
        Path("/proc/self/comm").write_text("a) (b", encoding="utf-8")
        return Path("/proc/self/stat").read_bytes().count(b")"), initial_environment_span()

    assert _in_a_fork(renamed) == (2, expected)


@needs_proc
def test_the_token_the_process_started_with_is_zeroed_where_proc_shows_it() -> None:
    planted = f"{TOKEN_VAR}={TOKEN}".encode()
    assert take_token({TOKEN_VAR: ""}) is None
    assert erase_initial_entry("REACTORCIDE_NO_SUCH_VARIABLE") is False
    assert erase_initial_entry("\ud800") is False  # a name that is not text

    def started_with_the_token() -> Any:
        # Give this copy of the process a start-up block holding the token, in place of
        # its longest entry, as a process started with it in its environment has.
        span = initial_environment_span()
        assert span is not None
        block = _mem()
        longest = max(block.split(b"\0"), key=len)
        assert len(longest) >= len(planted), "no entry long enough to hold the token"
        fd = os.open("/proc/self/mem", os.O_RDWR)
        try:
            os.pwrite(fd, planted.ljust(len(longest), b"\0"), span[0] + block.index(longest))
        finally:
            os.close(fd)
        os.environ[TOKEN_VAR] = TOKEN
        before = Path("/proc/self/environ").read_bytes()
        secret = take_token(os.environ)
        after = Path("/proc/self/environ").read_bytes()
        return (planted in before, secret is not None and secret.value, TOKEN_VAR in os.environ,
                TOKEN.encode() in after, len(after) == len(before),
                after.replace(b"\0", b"") == before.replace(b"\0", b"").replace(planted, b""))

    assert _in_a_fork(started_with_the_token) == (True, TOKEN, False, False, True, True)
