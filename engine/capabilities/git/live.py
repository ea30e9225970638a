"""`GitSource` over a real checkout, through the engine's git runner (no GitPython).

The happy path of a change question is one `git diff` process; only when it fails are
more questions asked (`history`), to say which ref is missing and what to fetch.
Running git and keeping its answers is `questions`'; credentials are taken out of a
remote's URL by `urls`.
"""

from __future__ import annotations

import os

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.questions import (
    GitQuestions,
    MissingHistory,
    NotACheckout,
    OutOfTime,
)
from engine.capabilities.git.refs import check_rev, normalize, range_sides
from engine.capabilities.git.runner import DEFAULT_MEMORY_MB, Checkout, GitUnusable
from engine.capabilities.git.urls import strip_credentials

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from typing import Any

__all__ = [
    "ON_MISSING_HISTORY", "RENAME_LIMIT", "CapabilityError", "LiveGit", "MissingHistory",
    "NotACheckout", "OutOfTime", "check_ref", "preload", "scrub_git_environment",
    "start_preload", "strip_credentials",
]

ON_MISSING_HISTORY = ("error", "all_changed")
RENAME_LIMIT = 1000  # explicit, so that a repository's diff.renameLimit cannot change it

# Options that keep a repository's own configuration from running programs or
# changing the output format.
_SAFE_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.quotepath=false")
# Explicit where a configuration could change what is listed or in which order.
_DIFF_OPTIONS = ("--no-ext-diff", "--no-textconv", "--no-color", "--no-relative",
                 "--ignore-submodules=none", f"-O{os.devnull}", "-z")
_STATUS = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "C": "copied",
           "T": "type_changed"}
_INFO_KEYS = ("branch", "commit", "short_commit", "tag", "remote_url")


def preload() -> None:
    """Import GitPython now, so that the first git builtin does not pay for it.

    Safe to run in a background thread once the sandbox child has been forked.
    """
    import git.cmd  # noqa: F401


def start_preload() -> threading.Thread:
    """`preload` in a background thread (see engine.common.preload)."""
    from engine.common import preload as background

    return background.start("git.cmd")


def scrub_git_environment(src_dir: str) -> None:
    """Remove inherited GIT_* settings and keep git from looking above the source dir.

    GitPython always passes this process's environment to git, so it is cleaned here.
    """
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    os.environ["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.realpath(src_dir))
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["GIT_NO_LAZY_FETCH"] = "1"  # git 2.44+: a partial clone stays offline


def check_ref(ref: str) -> str:
    """Refuse refs that git could read as an option or that are not one revision."""
    return check_rev(ref)


class LiveGit(GitQuestions):
    """Answers git questions by running git in the source checkout.

    `on_missing_history` is the operator's choice when a ref or a merge base is
    missing: `"error"` (the default), or `"all_changed"`, where every tracked file
    counts as changed and a line is added to `warnings` for the parent to show.
    `env_branch` is the branch the CI environment names; it wins over the checkout's
    (which is detached in most CI checkouts). `timeout_seconds`, `wall_seconds` and
    `memory_mb` bound every git command (see `GitQuestions`).
    """

    def __init__(self, src_dir: str | os.PathLike[str], *, on_missing_history: str = "error",
                 env_branch: str | None = None, timeout_seconds: float = 120.0,
                 wall_seconds: float | None = None,
                 memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        if on_missing_history not in ON_MISSING_HISTORY:
            raise ValueError(f"on_missing_history must be one of {ON_MISSING_HISTORY}")
        super().__init__(src_dir, timeout_seconds=timeout_seconds,
                         wall_seconds=wall_seconds, memory_mb=memory_mb)
        self.on_missing_history = on_missing_history
        self.env_branch = env_branch or None
        self.warnings: list[str] = []

    # -- changes ----------------------------------------------------------------------

    def changed_files(self, from_ref: str, to_ref: str | None,
                      base_dir: str | None) -> list[str]:
        out = self._diff(from_ref, to_ref, base_dir, "--name-only", "--no-renames")
        if isinstance(out, list):
            return out
        return self._split(out)

    def changes(self, from_ref: str, to_ref: str | None,
                base_dir: str | None) -> list[dict[str, str | None]]:
        # A copy is found when its source changed in the same diff too (git's `-C`):
        # finding copies of unchanged files would read every file of the repository.
        out = self._diff(from_ref, to_ref, base_dir, "--name-status", "--find-renames",
                         "--find-copies", f"-l{RENAME_LIMIT}")
        if isinstance(out, list):
            return [{"path": path, "status": "modified", "old_path": None} for path in out]
        fields = self._split(out)
        result: list[dict[str, str | None]] = []
        index = 0
        while index < len(fields):
            letter = fields[index][:1]
            if letter in ("R", "C"):
                old, path = fields[index + 1], fields[index + 2]
                result.append({"path": path, "status": _STATUS[letter], "old_path": old})
                index += 3
            else:
                result.append({"path": fields[index + 1],
                               "status": _STATUS.get(letter, "modified"), "old_path": None})
                index += 2
        return result

    def _diff(self, from_ref: str, to_ref: str | None, base_dir: str | None,
              *options: str) -> bytes | list[str]:
        """The raw `-z` output of one diff, or every tracked path when history is
        missing and the policy says to fail open."""
        frm, to = normalize(from_ref, to_ref)
        cwd = self._base(base_dir)
        revs = (frm,) if to is None else (frm, to)
        try:
            return self._run_diff(cwd, options, revs)
        except (OutOfTime, GitUnusable):
            raise
        except CapabilityError as failure:
            from engine.capabilities.git.history import root_parent

            try:
                empty = root_parent(self, cwd, frm, to, failure)
                return self._run_diff(cwd, options, (empty, to or "HEAD"))
            except MissingHistory as missing:
                if self.on_missing_history != "all_changed":
                    raise
                return self._all_tracked(cwd, frm, to, missing)

    def _run_diff(self, cwd: Checkout, options: tuple[str, ...], revs: tuple[str, ...]) -> bytes:
        out, err = self._execute(
            cwd, ("diff", *options, *_DIFF_OPTIONS, "--end-of-options", *revs, "--")
        )
        if "rename detection was skipped" in err:
            self._warn(f"{_label(*revs)}: more changed files than git compares for renames "
                       f"and copies (limit {RENAME_LIMIT}); only exact renames and copies "
                       "are reported")
        return out

    def _split(self, out: bytes) -> list[str]:
        """git's `-z` output as names. Starlark strings are UTF-8: a name in another
        encoding cannot come back exactly, so it is shown with U+FFFD and a warning."""
        try:
            text = out.decode("utf-8")
        except UnicodeDecodeError:
            text = out.decode("utf-8", "replace")
            odd = sorted({name for name in text.split("\0")[:-1] if "\ufffd" in name})
            self._warn(f"{len(odd)} file name(s) are not UTF-8 and are shown with U+FFFD "
                       f"in place of the bytes that are not: {', '.join(odd[:5])}"
                       + (" ..." if len(odd) > 5 else ""))
        return text.split("\0")[:-1]

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _all_tracked(self, cwd: Checkout, frm: str, to: str | None,
                     missing: MissingHistory) -> list[str]:
        new = range_sides(frm, to)[1]
        tree = next((rev for rev in (new, "HEAD") if self.resolves(cwd, rev)), None)
        if tree is None:
            raise missing
        out = self._git(cwd, "ls-tree", "-r", "-z", "--name-only", "--full-tree",
                        "--end-of-options", tree)
        paths = self._split(out)
        warning = (f"{_label(frm, to)}: {missing}; as the policy says "
                   f'on_missing_history = "all_changed", all {len(paths)} files tracked at '
                   f"{tree} count as changed")
        self._warn(warning)
        return paths

    # -- files at a commit (plan --diff) -------------------------------------------------

    def file_at(self, rev: str, path: str) -> bytes | None:
        """The bytes of `path` (relative to the source directory, `/`-separated) in commit
        `rev`, or None when that commit has no such file; MissingHistory for an unknown
        `rev`."""
        cwd = self._base(None)
        check_rev(rev)
        if self.commit_id(cwd, rev) is None:
            from engine.capabilities.git.history import missing_ref_message

            raise MissingHistory(missing_ref_message(self, cwd, rev, self.is_shallow(cwd)))
        from pathlib import Path

        # git runs at the work tree's top: name the file from there.
        prefix = os.path.relpath(Path(self.src_dir).resolve(), cwd.work_tree)
        inside = path if prefix == "." else f"{prefix.replace(os.sep, '/')}/{path}"
        try:
            return self._git(cwd, "cat-file", "blob", f"{rev}:{inside}")
        except OutOfTime:
            raise
        except CapabilityError:
            return None

    # -- facts ------------------------------------------------------------------------

    def info(self, base_dir: str | None) -> dict[str, Any]:
        facts: dict[str, Any] = dict.fromkeys(_INFO_KEYS)
        try:
            cwd = self._base(base_dir)
        except NotACheckout:
            # Not a checkout (a copied source, say): facts are unknown, not an error.
            facts["branch"] = self.env_branch if base_dir is None else None
            return facts
        try:
            root: Checkout | None = self._base(None)
        except NotACheckout:
            root = None
        # The environment describes the job's own checkout (any directory of it), not
        # another repository below it.
        env_branch = self.env_branch if cwd == root else None
        facts["branch"] = env_branch
        commit = self._try(cwd, "rev-parse", "--verify", "-q", "HEAD")
        if env_branch is None:
            facts["branch"] = self._try(cwd, "symbolic-ref", "--short", "-q", "HEAD")
        # Version order, a `-` suffix (v2.0.0-rc1) before its release (v2.0.0).
        tags = self._try(cwd, "-c", "versionsort.suffix=-", "tag", "--points-at", "HEAD",
                         "--sort=-v:refname")
        remote = self._try(cwd, "config", "--get", "remote.origin.url")
        facts.update(
            commit=commit,
            short_commit=commit[:7] if commit else None,
            tag=tags.splitlines()[0] if tags else None,
            remote_url=strip_credentials(remote) if remote else None,
        )
        return facts


def _label(frm: str, to: str | None = None) -> str:
    return frm if to is None else f"{frm}..{to}"
