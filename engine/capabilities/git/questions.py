"""Git run in a source checkout, each command once, and the small questions built on it.

Which checkout a question is about (the source's, or the one a `base_dir` names),
every command through the one runner with the run's wall clock and memory limit, and
each command's outcome kept: the checkout does not change during an evaluation, so no
question is put to git twice, failures included.
"""

from __future__ import annotations

import os
import time

from engine.capabilities.answers import Answers
from engine.capabilities.base import CapabilityError
from engine.capabilities.git.checkout_dir import find_checkout
from engine.capabilities.git.runner import (
    DEFAULT_MEMORY_MB,
    Checkout,
    GitUnusable,
    run_git,
)
from engine.capabilities.git.runner import OutOfTime as GitOutOfTime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


class MissingHistory(CapabilityError):
    """A ref or merge base that this checkout does not have (shallow clone, not fetched)."""


class NotACheckout(CapabilityError):
    """No `.git` from the directory asked about upward."""


class OutOfTime(CapabilityError):
    """The run's wall clock ran out while git worked: no further question is asked."""


class GitQuestions:
    """Git commands in one source directory, asked once each.

    `memory_mb` is git's address-space limit (the run's memory limit in the engine).
    With `wall_seconds` (the run's wall-clock limit, counted from now) no git command
    may outlast the run: the sandbox waits for the answer, so git's time is the
    pipeline's time.
    """

    def __init__(self, src_dir: str | os.PathLike[str], *, timeout_seconds: float = 120.0,
                 wall_seconds: float | None = None,
                 memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        self.src_dir = os.fspath(src_dir)
        self.timeout_seconds = timeout_seconds
        self.wall_seconds = wall_seconds
        self.memory_mb = memory_mb
        self._deadline = None if wall_seconds is None else time.monotonic() + wall_seconds
        self._empty_tree: str | None = None
        # Every git command's outcome, by (directory, arguments).
        self._asked: Answers[tuple[Checkout, tuple[str, ...]], tuple[bytes, str]] = Answers()
        self._checkouts: dict[Path, Checkout | None] = {}

    def _base(self, base_dir: str | None) -> Checkout:
        """The checkout a question is about: the source's, or the one `base_dir` names.

        `base_dir` must be a directory inside the source; the checkout is the nearest
        `.git` entry from there upward, never the directory read as a bare repository.
        """
        from pathlib import Path

        root = Path(self.src_dir).resolve()
        if base_dir is None:
            start = root
        else:
            try:
                candidate = Path(base_dir)
                start = (candidate if candidate.is_absolute() else root / candidate).resolve()
                inside = start == root or root in start.parents
                is_dir = inside and start.is_dir()
            except (OSError, ValueError):  # a NUL byte, a name too long for the system
                raise CapabilityError(f"base_dir {shown(base_dir)} is not a usable path") \
                    from None
            if not inside:
                raise CapabilityError(f"base_dir {shown(base_dir)} is outside the source "
                                      "directory")
            if not is_dir:
                raise CapabilityError(f"base_dir {shown(base_dir)} is not a directory")
        if start not in self._checkouts:
            self._checkouts[start] = find_checkout(start)
        checkout = self._checkouts[start]
        if checkout is None:
            where = "the source directory" if base_dir is None else \
                f"base_dir {shown(base_dir)}"
            raise NotACheckout(f"{where} is not a git repository (no `.git` in it or "
                               "above it)")
        return checkout

    def _git(self, cwd: Checkout, *args: str) -> bytes:
        return self._execute(cwd, args)[0]

    def _execute(self, cwd: Checkout, args: tuple[str, ...]) -> tuple[bytes, str]:
        """stdout, untouched (git's `-z` output may end in a newline), and stderr;
        asked once per checkout and arguments, failures included."""
        return self._asked.ask((cwd, args), lambda: self._run_git(cwd, args))

    def _run_git(self, cwd: Checkout, args: tuple[str, ...]) -> tuple[bytes, str]:
        try:
            out, err = run_git(cwd, args, deadline=self._deadline,
                               timeout=self.timeout_seconds, memory_mb=self.memory_mb)
        except GitOutOfTime:
            raise OutOfTime(self._over_wall_clock()) from None
        return out, err.decode("utf-8", "replace")

    def _over_wall_clock(self) -> str:
        return (f"git did not answer within the wall-clock limit of {self.wall_seconds:g} s "
                "(git's time counts against the run's)")

    def _try(self, cwd: Checkout, *args: str) -> str | None:
        """git's stripped output, or None when the command fails (but not when git
        cannot run at all or the run is out of time)."""
        try:
            return self._git(cwd, *args).decode("utf-8", "replace").strip() or None
        except (OutOfTime, GitUnusable):
            raise
        except CapabilityError:
            return None

    # -- small questions ----------------------------------------------------------------

    def is_repository(self, cwd: Checkout) -> bool:
        """Whether git can use the checkout at all."""
        return self._try(cwd, "rev-parse", "--absolute-git-dir") is not None

    def resolves(self, cwd: Checkout, rev: str) -> bool:
        """Whether `rev` names a commit this checkout has."""
        return self.commit_id(cwd, rev) is not None

    def is_shallow(self, cwd: Checkout) -> bool:
        """Whether the clone's history was cut off."""
        return self._try(cwd, "rev-parse", "--is-shallow-repository") == "true"

    def commit_id(self, cwd: Checkout, rev: str) -> str | None:
        """The commit `rev` names, or None."""
        return self._try(cwd, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}")

    def is_root(self, cwd: Checkout, rev: str) -> bool:
        """Whether `rev` is a commit without parents."""
        # The commit object itself, not `rev-list --parents`: in a shallow clone the
        # oldest commit looks parentless to rev-list although its parent exists.
        text = self._try(cwd, "cat-file", "commit", f"{rev}^{{commit}}")
        if text is None:
            return False
        header = text.split("\n\n", 1)[0]
        return not any(line.startswith("parent ") for line in header.splitlines())

    def empty_tree_id(self, cwd: Checkout) -> str:
        """The id of the empty tree in this repository's hash algorithm."""
        # Asked of git, never hard-coded: the id depends on the hash algorithm.
        if self._empty_tree is None:
            value = self._try(cwd, "hash-object", "-t", "tree", os.devnull)
            if value is None:
                raise CapabilityError("cannot compute the empty tree id")
            self._empty_tree = value
        return self._empty_tree

    def remotes(self, cwd: Checkout) -> list[str]:
        """The names of the checkout's remotes."""
        return (self._try(cwd, "remote") or "").split()

    def closest_ref(self, cwd: Checkout, name: str) -> str | None:
        """An existing branch, remote branch or tag whose name is a likely typo of `name`."""
        from engine.common.suggest import closest

        listed = self._try(cwd, "for-each-ref", "--format=%(refname:short)",
                           "refs/heads", "refs/remotes", "refs/tags") or ""
        return closest(name, [r for r in listed.splitlines() if r != name], cutoff=0.75)


def shown(text: str) -> str:
    """A name the pipeline chose, quoted with control characters escaped."""
    return repr(text)
