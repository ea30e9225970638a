"""The glob dialect against a reference matcher written from docs/git.md alone.

The engine compiles globs to one regular expression per set and scans every path in one
pass; the reference below walks a glob and a path character by character, following the
documented rules and nothing else. For any glob and path drawn from a small alphabet,
both must agree, one path at a time and for lists of paths.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pipeline_builtins.globs import GlobError, all_match, any_match, join_paths, matches
from tests.support.case_ids import case_id


def _class_end(glob: str, start: int) -> int:
    """Index of the `]` closing the set at `start`; a `]` first in the set is literal."""
    index = start + 1
    if index < len(glob) and glob[index] in "!^":
        index += 1
    first = index
    while glob[index] != "]" or index == first:
        index += 1
    return index


def _in_class(body: str, char: str) -> bool:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    found = False
    index = 0
    while index < len(body):
        if index + 2 < len(body) and body[index + 1] == "-":
            found |= body[index] <= char <= body[index + 2]
            index += 3
        else:
            found |= body[index] == char
            index += 1
    # No bracket expression ever matches "/".
    return char != "/" and found != negate


def reference_match(glob: str, path: str) -> bool:
    """Whether `path` matches `glob`, by the rules of docs/git.md."""
    if glob.endswith("/"):
        glob += "**"  # a trailing "/" means everything below

    @functools.cache
    def at(g: int, p: int) -> bool:
        if g == len(glob):
            return p == len(path)
        char = glob[g]
        if char == "*":
            end = g
            while end < len(glob) and glob[end] == "*":
                end += 1
            if end - g == 1:  # "*": any characters except "/"
                return any(at(end, q) for q in range(p, len(path) + 1)
                           if "/" not in path[p:q])
            whole = (g == 0 or glob[g - 1] == "/") and (end == len(glob) or glob[end] == "/")
            if whole and end < len(glob):  # "**/": zero or more directories
                starts = [p] + [q for q in range(p + 1, len(path) + 1) if path[q - 1] == "/"]
                return any(at(end + 1, q) for q in starts)
            # "**" at the end, or not a whole segment: any characters, "/" included
            return any(at(end, q) for q in range(p, len(path) + 1))
        if p == len(path):
            return False
        if char == "?":
            return path[p] != "/" and at(g + 1, p + 1)
        if char == "[":
            close = _class_end(glob, g)
            return _in_class(glob[g + 1:close], path[p]) and at(close + 1, p + 1)
        if char == "\\":
            return path[p] == glob[g + 1] and at(g + 2, p + 1)
        return path[p] == char and at(g + 1, p + 1)

    return at(0, 0)


# --- rows a reader would check first -------------------------------------------------------

ROWS = [
    ("a**/b", "ab", False),  # "**" inside a segment is no "zero directories"
    ("a**/b", "a/b", True),
    ("a**/b", "ax/y/b", True),
    ("**a/b", "a/b", True),
    ("**a/b", "b", False),
    ("x/**b", "x/b", True),
    ("x/**b", "x/y/zb", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "ab", False),
    ("**/b", "b", True),
    ("a/**", "a/b/c", True),
    ("a/**", "a", False),
    ("a/", "a/b", True),
    ("***/b", "b", True),
    ("[]a]", "]", True),
    ("[!]a]", "b", True),
    ("[a-]", "-", True),
    ("[!/]", "/", False),
    ("[X]", "X", True),  # only "!" and "^" negate a set
    ("[X]", "Y", False),
    ("[x\\y]", "\\", True),  # a backslash in a set is itself
    ("[x\\y]", "y", True),
    ("[!a]", "!", True),  # the "!" only negates: the set is "a" alone
    ("[^a]", "^", True),
    ("[acd]", "b", False),  # a "-" makes a range, no other character does
    ("[a-c-e]", "-", True),
]


@pytest.mark.parametrize(("glob", "path", "expected"), ROWS,
                         ids=[case_id(f"{g} ~ {p}") for g, p, _ in ROWS])
def test_rows_agree_with_the_documented_rules(glob: str, path: str, expected: bool) -> None:
    assert reference_match(glob, path) is expected
    assert matches(glob, path) is expected


GLOB_ERRORS = [
    ("x[", "glob 'x[': '[' at 1 is never closed"),
    ("a[!", "glob 'a[!': '[' at 1 is never closed"),
    ("b/[z-a]", "glob 'b/[z-a]': the set '[z-a]' at 2 is not valid (bad character range z-a)"),
    ("[z-a].txt", "glob '[z-a].txt': the set '[z-a]' at 0 is not valid (bad character range "
                  "z-a)"),
    ("", "a glob must not be empty"),
    ("a\0b", "glob 'a\\x00b' contains a NUL character"),
    ("/src/*.py", "glob '/src/*.py': globs are relative to the repository root; drop the "
                  "leading '/' or './'"),
    ("./src", "glob './src': globs are relative to the repository root; drop the leading "
              "'/' or './'"),
    ("!docs/**", "glob '!docs/**': negation is not supported; use changes_only() or `not "
                 "changes_include(...)`"),
    ("abc\\", "glob 'abc\\\\' ends with a lone backslash"),
]


@pytest.mark.parametrize(("glob", "message"), GLOB_ERRORS,
                         ids=[case_id(g) or "empty" for g, _ in GLOB_ERRORS])
def test_a_glob_outside_the_dialect_is_refused_saying_where(glob: str, message: str) -> None:
    with pytest.raises(GlobError) as caught:
        matches(glob, "x")
    assert str(caught.value) == message


@pytest.mark.parametrize("glob", [None, 1, b"*.py"], ids=case_id)
def test_a_glob_that_is_not_text_is_refused(glob: object) -> None:
    with pytest.raises(GlobError) as caught:
        any_match((glob,), join_paths(["x"]))  # type: ignore[arg-type]
    assert str(caught.value) == "globs must be strings"


# --- property: any glob and path over a small alphabet -------------------------------------

_GLOB_PIECES = ["a", "b", ".", "/", "*", "**", "**/", "?", "[ab]", "[!a]", "[^b]", "[a-c]", "[]a]",
                "[-a]", "[a-]", "\\*", "\\[", "-"]
_SEGMENTS = st.text(alphabet="ab.-*[]c", min_size=1, max_size=4)

globs = (
    st.lists(st.sampled_from(_GLOB_PIECES), min_size=1, max_size=7)
    .map("".join)
    .filter(lambda g: not g.startswith(("/", "./", "!")))
)
paths = st.lists(_SEGMENTS, min_size=1, max_size=4).map("/".join)

# What a wildcard piece may stand for when a path is made from a glob: some choices match,
# some (a "/" where none may be) do not; the reference decides which.
_STANDS_FOR = {"*": ["", "a", "ab", "a/b"], "**": ["", "a", "a/", "a/b/"],
               "**/": ["", "a/", "a/b/"], "?": ["a", "/", ""],
               "[ab]": ["a", "c"], "[!a]": ["b", "a", "/"], "[^b]": ["a", "b"],
               "[a-c]": ["b", "d"], "[]a]": ["]", "b"], "[-a]": ["-", "b"],
               "[a-]": ["-", "c"], "\\*": ["*", "a"], "\\[": ["["]}


@st.composite
def glob_and_path(draw: st.DrawFn) -> tuple[str, str]:
    """A glob, and a path made from it piece by piece: near the boundary of a match."""
    pieces = draw(st.lists(st.sampled_from(_GLOB_PIECES), min_size=1, max_size=7)
                  .filter(lambda ps: not "".join(ps).startswith(("/", "./", "!"))))
    path = "".join(draw(st.sampled_from(_STANDS_FOR.get(piece, [piece]))) for piece in pieces)
    assume(all(path.split("/")))  # a real path: no empty segment, no leading or final "/"
    return "".join(pieces), path


@settings(max_examples=400, deadline=None)
@given(glob=globs, path=paths)
def test_one_path_matches_as_the_documented_rules_say(glob: str, path: str) -> None:
    assert matches(glob, path) is reference_match(glob, path), (glob, path)


@settings(max_examples=400, deadline=None)
@given(glob_and_path())
def test_a_path_made_from_the_glob_matches_as_the_rules_say(pair: tuple[str, str]) -> None:
    glob, path = pair
    assert matches(glob, path) is reference_match(glob, path), (glob, path)


@settings(max_examples=200, deadline=None)
@given(chosen=st.lists(globs, min_size=1, max_size=3), changed=st.lists(paths, max_size=4))
def test_a_glob_set_over_many_paths_matches_as_the_rules_say(chosen: list[str],
                                                             changed: list[str]) -> None:
    joined = join_paths(changed) if changed else "\0\0"
    hits = [any(reference_match(g, p) for g in chosen) for p in changed]
    assert any_match(tuple(chosen), joined) is any(hits)
    assert all_match(tuple(chosen), joined) is (bool(hits) and all(hits))
