"""The transcript's scrubber, in-process: the token in every spelling and the credentials
of every URL leave each string of JSON data, keys included, nested at any depth; with
`urls=False` only the token goes; what is not text is kept as it is."""

from __future__ import annotations

from typing import Any

import pytest

from engine.common.secret import REDACTED, Secret
from engine.transcripts.scrub import Scrubber

TOKEN = "tok en+/1"
CLEAN_URL = "https://git.example.com/app.git"
WITH_USER = "https://deploy:pw@git.example.com/app.git"
HIDDEN = REDACTED

# JSON data, what `deep` gives for it, and what `deep(urls=False)` gives
DEEP: dict[str, tuple[Any, Any, Any]] = {
    "a string": (f"see {WITH_USER} with {TOKEN}", f"see {CLEAN_URL} with {HIDDEN}",
                 f"see {WITH_USER} with {HIDDEN}"),
    "a list": ([WITH_USER, TOKEN], [CLEAN_URL, HIDDEN], [WITH_USER, HIDDEN]),
    "a key and its value": ({WITH_USER: TOKEN}, {CLEAN_URL: HIDDEN}, {WITH_USER: HIDDEN}),
    "deep in lists and objects": (
        {"a": [{"b": [WITH_USER]}, [TOKEN]]}, {"a": [{"b": [CLEAN_URL]}, [HIDDEN]]},
        {"a": [{"b": [WITH_USER]}, [HIDDEN]]}),
    "a key that is no string": ({1: TOKEN}, {"1": HIDDEN}, {"1": HIDDEN}),
    "numbers and the rest kept": ([1, 2.5, True, None], [1, 2.5, True, None],
                                  [1, 2.5, True, None]),
}


@pytest.mark.parametrize(("value", "everything", "token_only"), DEEP.values(),
                         ids=DEEP.keys())
def test_deep_scrubs_every_string(value: Any, everything: Any, token_only: Any) -> None:
    scrub = Scrubber(Secret(TOKEN))
    assert scrub.deep(value) == everything
    assert scrub.deep(value, urls=True) == everything
    assert scrub.deep(value, urls=False) == token_only


def test_without_a_token_only_urls_are_scrubbed() -> None:
    scrub = Scrubber(None)
    assert scrub.text(f"{WITH_USER} {TOKEN}") == f"{CLEAN_URL} {TOKEN}"
    assert scrub.secret(f"{WITH_USER} {TOKEN}") == f"{WITH_USER} {TOKEN}"


def test_every_url_of_a_text_is_scrubbed_and_the_text_around_kept() -> None:
    text = f"from {WITH_USER} then ssh://git:pw@host/x and {CLEAN_URL}?access_token=x end"
    assert Scrubber(None).text(text) == (
        f"from {CLEAN_URL} then ssh://git@host/x and {CLEAN_URL} end")
