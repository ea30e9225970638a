"""The glob dialect of `changes_include` and `changes_only`, matched in bulk.

Globs are anchored at the repository root and case-sensitive:

- `*` matches any characters except `/`; `?` one character except `/`;
- `[abc]`, `[a-z]`, `[!abc]` (or `[^abc]`) one character of (not of) a set, never `/`;
- `**` as a whole path segment matches zero or more directories (`**/x`, `a/**/b`,
  `a/**`); elsewhere (`**.py`) it matches any characters, `/` included;
- `\\` makes the next character literal; a trailing `/` means everything below;
- dotfiles are matched like any other file.

All paths of one question are joined into a single NUL-separated string, so that one
glob set is tested against every path in a single regular-expression scan instead of
one Python call per path (paths never contain NUL).
"""

from __future__ import annotations

import functools
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


class GlobError(ValueError):
    """A glob outside the dialect; the message is shown to the pipeline author."""


_ANY = "[^\\0]*"
_SEGMENT = "[^/\\0]*"
_ONE = "[^/\\0]"


def _class(glob: str, start: int) -> tuple[str, int]:
    """Translate the `[...]` starting at `start`; return the regex and the index after it."""
    index = start + 1
    negate = index < len(glob) and glob[index] in "!^"
    if negate:
        index += 1
    first = index
    while index < len(glob) and (glob[index] != "]" or index == first):
        index += 1
    if index >= len(glob):
        raise GlobError(f"glob {glob!r}: '[' at {start} is never closed")
    body = glob[first:index]
    parts = []
    for position, char in enumerate(body):
        inner = 0 < position < len(body) - 1
        parts.append("-" if char == "-" and inner else re.escape(char))
    chars = "".join(parts)
    regex = f"[^{chars}/\\0]" if negate else f"(?![/\\0])[{chars}]"
    try:
        re.compile(regex)
    except re.error as err:  # a reversed range such as [z-a]
        raise GlobError(f"glob {glob!r}: the set {glob[start:index + 1]!r} at {start} is "
                        f"not valid ({err.msg})") from None
    return regex, index + 1


def translate(glob: str) -> str:
    """The regular expression (without anchors) for one glob; raise GlobError."""
    return _parse(glob)[0]


@functools.lru_cache(maxsize=1024)
def _parse(glob: str) -> tuple[str, str]:
    """The glob's regex, and a substring every joined string it matches must contain."""
    _refuse_outside_dialect(glob)
    if glob.endswith("/"):
        glob += "**"
    out: list[str] = []
    # Runs of literal characters; a NUL marks the glob's start or end when literal.
    literals: list[str] = ["\0"]
    index = 0
    while index < len(glob):
        char = glob[index]
        if char in "*?[":
            literals.append("")
        if char == "*":
            regex, index = _stars(glob, index)
            out.append(regex)
        elif char == "?":
            out.append(_ONE)
            index += 1
        elif char == "[":
            regex, index = _class(glob, index)
            out.append(regex)
        elif char == "\\":
            if index + 1 >= len(glob):
                raise GlobError(f"glob {glob!r} ends with a lone backslash")
            out.append(re.escape(glob[index + 1]))
            literals[-1] += glob[index + 1]
            index += 2
        else:
            out.append(re.escape(char))
            literals[-1] += char
            index += 1
    literals[-1] += "\0"
    regex = "".join(out)
    try:
        re.compile(regex)
    except re.error as err:
        raise GlobError(f"glob {glob!r} is not valid ({err.msg})") from None
    return regex, max(literals, key=len)


def _refuse_outside_dialect(glob: str) -> None:
    """Raise GlobError for what is not a glob of the dialect at all, before parsing."""
    if not isinstance(glob, str):
        raise GlobError("globs must be strings")
    if not glob:
        raise GlobError("a glob must not be empty")
    if "\0" in glob:
        raise GlobError(f"glob {glob!r} contains a NUL character")
    if glob.startswith("/") or glob.startswith("./"):
        raise GlobError(f"glob {glob!r}: globs are relative to the repository root; "
                        "drop the leading '/' or './'")
    if glob.startswith("!"):
        raise GlobError(f"glob {glob!r}: negation is not supported; use changes_only() "
                        "or `not changes_include(...)`")


def _stars(glob: str, start: int) -> tuple[str, int]:
    """Translate the run of `*` starting at `start`; return the regex and the index after
    it (after the `/` too, for a `**/` segment)."""
    end = start
    while end < len(glob) and glob[end] == "*":
        end += 1
    whole_segment = (start == 0 or glob[start - 1] == "/") and (
        end == len(glob) or glob[end] == "/"
    )
    if end - start == 1:
        return _SEGMENT, end
    if whole_segment and end < len(glob):
        return f"(?:{_ANY}/)?", end + 1  # `**/`: zero or more directories
    return _ANY, end


def _alternatives(globs: Sequence[str]) -> str:
    return "|".join(f"(?:{translate(glob)})" for glob in globs)


@functools.lru_cache(maxsize=256)
def _any_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    # A NUL, then one whole path that some glob matches, then the next NUL.
    return re.compile(f"\\0(?:{_alternatives(globs)})(?=\\0)")


@functools.lru_cache(maxsize=256)
def _miss_pattern(globs: tuple[str, ...]) -> re.Pattern[str]:
    # A NUL that starts a path which no glob matches whole.
    return re.compile(f"\\0(?!(?:{_alternatives(globs)})\\0)(?=[^\\0])")


def join_paths(paths: Sequence[str]) -> str:
    """Paths as one string: NUL before each and after the last."""
    return "\0" + "\0".join(paths) + "\0"


def _check(globs: tuple[str, ...]) -> None:
    # Even with nothing changed, so that a bad glob fails on every run, not only some.
    for glob in globs:
        _parse(glob)


def any_match(globs: tuple[str, ...], joined: str) -> bool:
    """Whether some path of `joined` matches some glob."""
    _check(globs)
    if joined == "\0\0":
        return False
    # A substring search is far cheaper than a regex scan, and settles most globs that
    # match nothing (`**/*.rs` in a repository without Rust) on its own.
    possible = tuple(glob for glob in globs if _parse(glob)[1] in joined)
    return bool(possible) and _any_pattern(possible).search(joined) is not None


def all_match(globs: tuple[str, ...], joined: str) -> bool:
    """Whether there is a path and every path matches some glob."""
    _check(globs)
    if joined == "\0\0":
        return False
    return _miss_pattern(globs).search(joined) is None


def matches(glob: str, path: str) -> bool:
    """Whether one path matches one glob (the same dialect, for single checks)."""
    return any_match((glob,), join_paths([path]))
