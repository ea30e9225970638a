"""After a change question failed: what is missing from the checkout, and what to fetch.

The happy path of a change question is one `git diff`; only when it fails are these
questions asked, to tell a ref that was never fetched from history a shallow clone
cut off, and to name the command that brings it in.
"""

from __future__ import annotations

import re

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.questions import MissingHistory
from engine.capabilities.git.refs import range_sides

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.capabilities.git.questions import GitQuestions
    from engine.capabilities.git.runner import Checkout

_REF_NAME = re.compile(r"[~^]|@\{")
_PARENT_FORM = re.compile(r"(.+?)(?:\^1?|~1?)")
_DEEPEN = "`git fetch --deepen=<commits>` or `git fetch --unshallow`"


def root_parent(git: GitQuestions, cwd: Checkout, frm: str, to: str | None,
                failure: CapabilityError) -> str:
    """After a failed diff: the empty tree when `frm` is the parent of a root commit
    `to`; otherwise raise what went wrong, naming the missing ref."""
    if not git.is_repository(cwd):
        raise CapabilityError("the source is not a usable git checkout") from None
    old, new, three_dot = range_sides(frm, to)
    parent_of = _PARENT_FORM.fullmatch(old)
    # `X^` against X, also when X is named another way (`@^` and HEAD, `main^` and
    # HEAD on main): the parent of a root commit is the empty tree.
    if not three_dot and parent_of is not None and git.is_root(cwd, new) and (
            parent_of.group(1) == new
            or git.commit_id(cwd, parent_of.group(1)) == git.commit_id(cwd, new)):
        return git.empty_tree_id(cwd)
    missing = [rev for rev in dict.fromkeys((old, new)) if not git.resolves(cwd, rev)]
    shallow = git.is_shallow(cwd)
    if missing:
        raise MissingHistory(missing_ref_message(git, cwd, missing[0], shallow)) from None
    if three_dot:
        if shallow:
            raise MissingHistory(
                f"no merge base of {old!r} and {new!r} in this checkout: the clone is "
                "shallow and stops before their common ancestor; fetch more history "
                "before the ingest job runs, e.g. `git fetch --deepen=100` or "
                "`git fetch --unshallow`"
            ) from None
        raise CapabilityError(f"{old!r} and {new!r} have no common history "
                              "(no merge base)") from None
    raise failure


def missing_ref_message(git: GitQuestions, cwd: Checkout, ref: str, shallow: bool) -> str:
    """Why `ref` is not in this checkout, and what to fetch."""
    name = _REF_NAME.split(ref, maxsplit=1)[0]
    hints: list[str] = []
    if name in ("", "@", "HEAD") and "@{" in ref:
        where = "this checkout's reflog has no such entry"
    elif name == ref or not git.resolves(cwd, name):
        close = git.closest_ref(cwd, name)
        where = "a branch or tag that was not fetched?"
        if close is not None:
            where = f"did you mean {close!r}? if not, a branch or tag that was not fetched"
        hints.append(f"`git fetch {_fetch_source(name, git.remotes(cwd))}`")
        if shallow and name != ref:
            hints.append(_DEEPEN)
    elif shallow:
        where = "the clone is shallow and its history stops before it"
        hints.append(_DEEPEN)
    else:
        where = "the history of this checkout does not go back that far"
    message = f"unknown git ref {ref!r}: it is not in this checkout ({where})"
    if hints:
        message += f"; fetch it before the ingest job runs, e.g. {' or '.join(hints)}"
    return message


def _fetch_source(name: str, remotes: list[str]) -> str:
    """`REMOTE BRANCH` for `git fetch`, from a ref name such as `upstream/main`."""
    for prefix in ("refs/remotes/", ""):
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        for remote in sorted(remotes, key=len, reverse=True):
            if rest.startswith(remote + "/"):
                return f"{remote} {rest[len(remote) + 1:]}"
        if prefix:
            remote, _, branch = rest.partition("/")
            return f"{remote} {branch}"
    if name.startswith("refs/tags/"):
        return f"origin tag {name.removeprefix('refs/tags/')}"
    return f"origin {name.removeprefix('refs/heads/').removeprefix('origin/')}"
