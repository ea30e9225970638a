"""The API token never appears in anything the parent writes from sources other than the
pipeline's own text: error messages built from coordinator answers, transport errors,
excerpts of an answer cut at any byte, URL-encoded forms, internal errors, transcripts.

Pipeline text itself (what a pipeline prints or passes to `fail()`) is deliberately not
covered here: the pipeline never holds the token, and redacting its own words would let
it test guesses.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.capabilities.base import CapabilityError
from engine.capabilities.coordinator.transport import Transport
from engine.cli import main as cli
from engine.common.secret import Secret
from engine.run import arguments
from engine.transcripts.scrub import Scrubber
from tests.support.coordinator_server import FakeCoordinator
from tests.support.engine_run import Result, run_cli

# A token whose raw and two URL-encoded spellings all differ (a token holds no blank,
# so its form-encoded spelling is the fully encoded one).
TOKEN = "tok/SECRET+9f3=q~x"
FORMS = sorted({TOKEN, quote(TOKEN), quote(TOKEN, safe=""), quote_plus(TOKEN)})
assert len(FORMS) == 3


def all_forms(token: str) -> set[str]:
    """Every spelling of `token` that text could carry."""
    return {token, quote(token), quote(token, safe=""), quote_plus(token)}


def assert_no_form(text: str, token: str = TOKEN) -> None:
    for form in all_forms(token):
        assert form not in text, (form, text)


def assert_no_trailing_piece(text: str, token: str = TOKEN, shortest: int = 4) -> None:
    """No form of the token, and no piece of one (at least `shortest` long) at the end."""
    assert_no_form(text, token)
    for form in all_forms(token):
        for length in range(shortest, len(form)):
            assert not text.endswith(form[:length]), (form[:length], text)


# --- unit: the parent's scrubbers, any token, any surrounding text --------------------------

# A token sharing four characters with the marker that replaces it ("[redacted]") would
# be "found" in the marker itself: such tokens are not drawn.
_TOKENS = st.text(alphabet=[chr(c) for c in range(0x21, 0x7F)], min_size=8, max_size=24).filter(
    lambda t: not any(t[i:i + 4] in "[redacted]" for i in range(len(t) - 3)))
_FILLER = st.text(alphabet=" \n\té漢·", max_size=12)


@st.composite
def _text_with_token(draw: st.DrawFn) -> tuple[str, str]:
    """A token, and text mixing its spellings with filler that shares none of its
    characters (so that the filler cannot complete a spelling by itself)."""
    token = draw(_TOKENS)
    pieces = draw(st.lists(st.one_of(_FILLER, st.sampled_from(sorted(all_forms(token)))),
                           min_size=1, max_size=6))
    return token, "".join(pieces)


def _transport(token: str) -> Transport:
    return Transport("https://127.0.0.1:9", token, allow_insecure_transport=False,
                     timeout=(1.0, 1.0), budget_seconds=1.0, max_attempts=1,
                     backoff_seconds=0.0)


class _Cut:
    """The part of an answer's body a single read returns: `body[:cut]`."""

    def __init__(self, body: bytes, cut: int) -> None:
        self._data = body[:cut]

    def read1(self, size: int, decode_content: bool = True) -> bytes:
        data, self._data = self._data[:size], self._data[size:]
        return data


class _Answer:
    def __init__(self, body: bytes, cut: int) -> None:
        self.raw = _Cut(body, cut)


@settings(max_examples=150, deadline=None)
@given(_text_with_token())
def test_a_transport_error_carries_no_spelling_of_the_token(case: tuple[str, str]) -> None:
    token, text = case
    error = _transport(token).fail(f"answered HTTP 403: {text}")
    assert isinstance(error, CapabilityError)
    assert_no_form(str(error), token)


@settings(max_examples=200, deadline=None)
@given(case=_text_with_token(), into=st.integers(min_value=0, max_value=160),
       pad=st.integers(min_value=1, max_value=900))
def test_an_excerpt_cut_at_any_byte_carries_no_spelling_or_piece_of_the_token(
    case: tuple[str, str], into: int, pad: int,
) -> None:
    token, text = case
    # Runs of blanks shrink to one in an excerpt: padding moves the text anywhere in the
    # first read, and the read ends `into` bytes into the text.
    head = ("error" + " " * pad).encode("utf-8")
    body = head + text.encode("utf-8")
    excerpt = _transport(token)._excerpt(_Answer(body, len(head) + into))  # type: ignore[arg-type]
    assert_no_trailing_piece(excerpt, token)


@settings(max_examples=150, deadline=None)
@given(_text_with_token())
def test_a_transcript_carries_no_spelling_of_the_token(case: tuple[str, str]) -> None:
    token, text = case
    scrub = Scrubber(Secret(token))
    recorded = scrub.deep({"answers": [text, {text: [text]}], "output": [text]})
    assert_no_form(json.dumps(recorded, ensure_ascii=False), token)
    assert_no_form(scrub.text(text), token)


# --- the command line: internal errors ------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_an_internal_error_carrying_the_token_is_shown_without_it(
    monkeypatch: pytest.MonkeyPatch, form: str,
) -> None:
    def broken(argv: list[str]) -> Any:
        raise RuntimeError(f"failed near {form}!")

    monkeypatch.setenv("REACTORCIDE_API_TOKEN", TOKEN)
    monkeypatch.setattr(arguments, "parse", broken)
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(["plan"], out, err)

    assert code == cli.EXIT_INTERNAL
    assert "internal error: RuntimeError: failed near " in err.getvalue()
    assert_no_form(out.getvalue() + err.getvalue())
    assert "REACTORCIDE_API_TOKEN" not in os.environ


# --- end to end: a coordinator whose error answers echo the token ----------------------------


@pytest.fixture
def coordinator_token() -> str:
    """The fake coordinator accepts the token with every spelling distinct."""
    return TOKEN


def _echoing_body(padding: int) -> str:
    # Every spelling, then the raw token straddling the first read of an excerpt.
    return ("denied for " + " ".join(FORMS) + " " * padding + TOKEN + " end")


def _run(src: Path, tmp_path: Path, server: FakeCoordinator, *extra: str) -> Result:
    env = {"REACTORCIDE_API_TOKEN": TOKEN, "REACTORCIDE_COORDINATOR_URL": server.url,
           "REACTORCIDE_JOB_ID": "job-1", "REACTORCIDE_BRANCH": "main",
           "REACTORCIDE_SHA": "a" * 40,
           "REQUESTS_CA_BUNDLE": os.environ["REQUESTS_CA_BUNDLE"]}
    return run_cli("--src", src, "--triggers-file", tmp_path / "triggers.json", *extra,
                      env=env, timeout=120)


def _src(tmp_path: Path, text: str) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "pipeline.star").write_text(text, encoding="utf-8")
    return src


@pytest.mark.parametrize("status", [400, 403, 404])
@pytest.mark.parametrize("padding", [0, 700, 760])
def test_coordinator_errors_echoing_the_token_are_shown_and_recorded_without_it(
    tmp_path: Path, coordinator: FakeCoordinator, status: int, padding: int,
) -> None:
    src = _src(tmp_path, 'is_job_running("deploy")\ntrigger_job("a")\n')
    coordinator.enqueue_fault(status, _echoing_body(padding))
    transcript = tmp_path / "run.json"

    result = _run(src, tmp_path, coordinator, "--record", str(transcript))

    assert result.code == 1, result.output
    assert str(status) in result.stderr
    assert_no_trailing_piece(result.output.split("\n")[0])
    assert_no_form(result.output)
    assert_no_form(transcript.read_text(encoding="utf-8"))
    assert not (tmp_path / "triggers.json").exists()


def test_a_refused_submission_echoing_the_token_is_reported_without_it(
    tmp_path: Path, coordinator: FakeCoordinator,
) -> None:
    src = _src(tmp_path, 'trigger_job("a")\n')
    coordinator.enqueue_fault(422, _echoing_body(0))

    result = _run(src, tmp_path, coordinator, "--submit")

    assert result.code == 1, result.output
    assert "HTTP 422" in result.stderr
    assert "is kept" in result.stderr
    assert_no_form(result.output)
    assert (tmp_path / "triggers.json").exists()


def test_the_token_is_taken_out_of_the_environment_and_never_shown() -> None:
    from engine.common.secret import take_token

    environ = {"REACTORCIDE_API_TOKEN": TOKEN, "OTHER": "x"}
    secret = take_token(environ)
    assert secret is not None and secret.value == TOKEN
    assert environ == {"OTHER": "x"}
    assert_no_form(f"{secret} {secret!r} {[secret]}")
    assert str(secret) == repr(secret) == "[redacted]"
    assert take_token({}) is None
    empty = {"REACTORCIDE_API_TOKEN": ""}
    assert take_token(empty) is None
    assert empty == {}


def test_only_the_secret_itself_unwraps_the_token() -> None:
    # The engine hands the `Secret` along and unwraps it only through its own methods
    # (the Authorization header, redaction, the sandbox's memory erase).
    import ast

    root = Path(__file__).resolve().parents[2]
    unwrapped = []
    for path in sorted([*root.glob("engine/**/*.py"), *root.glob("builtins/**/*.py")]):
        if path.relative_to(root).as_posix() == "engine/common/secret.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr in ("value", "_value")
                    and any(word in ast.unparse(node.value).lower()
                            for word in ("token", "secret"))):
                unwrapped.append(f"{path.relative_to(root)}:{node.lineno}")
    assert unwrapped == []
