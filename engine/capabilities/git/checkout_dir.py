"""Finding the checkout a directory belongs to, as git is then told it.

The nearest `.git` entry from a directory upward: a `.git` directory, or a gitfile
(`gitdir: PATH`, written by git for worktrees and submodules). A directory is never read
as a bare repository, so repository content shaped like one is only content.
"""

from __future__ import annotations

import os

from engine.capabilities.git.runner import Checkout, GitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path


def find_checkout(start: Path) -> Checkout | None:
    """The checkout `start` is in: the nearest `.git` entry from `start` upward.

    A `.git` directory, or a `.git` file saying `gitdir: PATH` (worktrees and
    submodules). Never `start` itself read as a bare repository. A `.git` owned by
    another user is refused, as git refuses it.
    """
    directory = start
    while True:
        entry = directory / ".git"
        checkout = _checkout_at(entry, directory)
        if checkout is not None:
            return checkout
        if directory.parent == directory:
            return None
        directory = directory.parent


def _checkout_at(entry: Path, work_tree: Path) -> Checkout | None:
    import stat

    try:
        info = entry.lstat()
    except OSError:
        return None
    if stat.S_ISDIR(info.st_mode):
        git_dir = entry
    elif stat.S_ISREG(info.st_mode):
        git_dir = _read_gitfile(entry)
    else:
        return None
    _check_owner(entry, info.st_uid)
    return Checkout(git_dir, work_tree)


def _read_gitfile(entry: Path) -> Path:
    from pathlib import Path  # callers hold Paths already; needed only for a gitfile

    from engine.common.regular_file import read_regular

    try:
        text = read_regular(entry, 4096).decode("utf-8")
    except (OSError, ValueError, UnicodeDecodeError):
        raise GitError(f"{entry} is not a usable gitfile") from None
    first = text.splitlines()[0] if text else ""
    if not first.startswith("gitdir: "):
        raise GitError(f"{entry} is not a usable gitfile (no `gitdir:` line)")
    target = Path(first[len("gitdir: "):])
    git_dir = target if target.is_absolute() else entry.parent / target
    if not git_dir.is_dir():
        raise GitError(f"{entry} names a git directory that does not exist")
    return git_dir


def _check_owner(entry: Path, uid: int) -> None:
    me = os.geteuid()
    if uid != me:
        raise GitError(
            f"dubious ownership: {entry} belongs to uid {uid}, not to uid {me} that runs "
            "the engine; git refuses such repositories (see git's `safe.directory`), and "
            "so does the engine: run it as the checkout's owner"
        )
