"""Ref expressions the git builtins accept, checked before git ever sees them.

Used on both sides of the sandbox: the child normalizes a call's refs so that the same
question is asked the same way (and cached once), and the parent checks them again,
since it never trusts the child.
"""

from __future__ import annotations

import re

from engine.capabilities.base import CapabilityError

MAX_REF_LENGTH = 1024

# A ref name (or a commit id): no control characters, spaces, `~ ^ : ? * [ \`, and no
# `@{`, which starts a reflog suffix (git-check-ref-format rules).
_NAME = re.compile(r"(?:[^\x00-\x20\x7f~^:?*\[\\@]|@(?!\{))+")
# What may follow a name: `^`, `^N`, `~`, `~N`, `^{}`, `^{commit}`, and the reflog
# forms `@{N}`, `@{-N}`, `@{upstream}` (`@{u}`) and `@{push}`. A date (`@{yesterday}`)
# is refused: its answer would depend on the clock, and the same inputs must give the
# same triggers.
_SUFFIX = re.compile(
    r"\^\{(?:commit|)\}|\^\d{0,9}|~\d{0,9}|@\{(?:-?\d{1,9}|u|upstream|push)\}"
)
_REFLOG = re.compile(r"@\{([^}]*)\}")


def _name_ok(name: str) -> bool:
    if name == "@":
        return True
    if name.startswith("/") or name.endswith(("/", ".")) or ".." in name or "//" in name:
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock")
        for part in name.split("/")
    )


def check_rev(rev: str) -> str:
    """Refuse anything that is not one revision (`main`, `origin/main~2`, a commit id).

    A leading `-` (an option to git), paths (`rev:path`), message searches (`:/text`)
    and revision sets (`A^!`, `A^@`) are refused.
    """
    if not isinstance(rev, str):
        raise CapabilityError("a git ref must be a string")
    if not rev or len(rev) > MAX_REF_LENGTH or rev.startswith("-"):
        raise CapabilityError(f"{rev!r} is not a valid git ref")
    match = _NAME.match(rev)
    end = match.end() if match else 0
    if match and not _name_ok(match.group()):
        raise CapabilityError(f"{rev!r} is not a valid git ref")
    if not match and not rev.startswith("@{"):
        raise CapabilityError(f"{rev!r} is not a valid git ref")
    while end < len(rev):
        suffix = _SUFFIX.match(rev, end)
        if suffix is None:
            reflog = _REFLOG.match(rev, end)
            if reflog is not None:
                raise CapabilityError(
                    f"{rev!r} is not a valid git ref here: after a ref only @{{N}}, "
                    f"@{{-N}}, @{{upstream}} and @{{push}} are accepted, not "
                    f"@{{{reflog.group(1)}}} (a date would make the answer depend on the "
                    "clock)"
                )
            raise CapabilityError(f"{rev!r} is not a valid git ref")
        end = suffix.end()
    return rev


def normalize(from_ref: str, to_ref: str | None) -> tuple[str, str | None]:
    """One canonical form per question: `(A, B)`, or `("A...B", None)` for a three-dot range.

    `A..B` is the same as `(A, B)`; an empty side of a range means HEAD; `to_ref` None
    means HEAD, and must be None (left out) when `from_ref` is a range.
    """
    if not isinstance(from_ref, str):
        raise CapabilityError("from_ref must be a string")
    if to_ref is not None and not isinstance(to_ref, str):
        raise CapabilityError("to_ref must be a string")
    for separator in ("...", ".."):
        if separator not in from_ref:
            continue
        if to_ref is not None:
            raise CapabilityError(
                f"from_ref is the range {from_ref!r}: leave out to_ref (got {to_ref!r})"
            )
        left, right = from_ref.split(separator, 1)
        if not left and not right:
            raise CapabilityError(f"{from_ref!r} is not a valid git range")
        left = check_rev(left or "HEAD")
        right = check_rev(right or "HEAD")
        return (f"{left}...{right}", None) if separator == "..." else (left, right)
    return check_rev(from_ref), check_rev("HEAD" if to_ref is None else to_ref)


def range_sides(from_ref: str, to_ref: str | None) -> tuple[str, str, bool]:
    """`(old side, new side, is three-dot)` of a normalized pair."""
    if to_ref is None:
        left, right = from_ref.split("...", 1)
        return left, right, True
    return from_ref, to_ref, False
