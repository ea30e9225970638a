"""`GitSource` over a real checkout, through the engine's git runner (no GitPython).

The happy path of a change question is one `git diff` process; only when it fails are
more questions asked, to say which ref is missing and what to fetch.
"""

from __future__ import annotations

import os
import re
import time

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.refs import check_rev, normalize, range_sides
from engine.capabilities.git.runner import (
    DEFAULT_MEMORY_MB,
    Checkout,
    GitUnusable,
    find_checkout,
    run_git,
)
from engine.capabilities.git.runner import OutOfTime as GitOutOfTime

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from pathlib import Path
    from typing import Any

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
_REF_NAME = re.compile(r"[~^]|@\{")
_PARENT_FORM = re.compile(r"(.+?)(?:\^1?|~1?)")


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


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP = re.compile(r"([^@/:]*)(:.*)?@([^/:@]+:.*)", re.DOTALL)


def strip_credentials(url: str) -> str:
    """A remote URL without secrets.

    `https://user:token@host/x` -> `https://host/x` (a user alone can be a token too);
    for ssh, where the user name is needed and not secret, only a password goes:
    `ssh://git:pw@host/x` -> `ssh://git@host/x`, `git:pw@host:x` -> `git@host:x`.
    A query and a fragment go too (`?access_token=...`).
    """
    scheme = _SCHEME.match(url)
    if scheme is None:
        scp = _SCP.fullmatch(url)
        if scp is not None and scp.group(2):
            return f"{scp.group(1)}@{scp.group(3)}"
        return _loose_userinfo(url)
    start = scheme.end()
    slash = url.find("/", start)
    authority_end = len(url) if slash < 0 else slash
    at = url.rfind("@", start, authority_end)
    if at < 0:
        at = _malformed_userinfo_end(url, start, authority_end)
        if at < 0:
            return _without_query(url, start)
    userinfo = url[start:at]
    ssh = "ssh" in scheme.group(1).lower()
    user = userinfo.split(":", 1)[0] if ssh else ""
    rest = _without_query(url, at + 1)[at + 1:]
    return f"{url[:start]}{user + '@' if user else ''}{rest}"


def _loose_userinfo(url: str) -> str:
    """Forms git or curl may still read as a URL with credentials: `//u:p@host/x`,
    `https:/u:p@host/x`, `https:u:p@host/x`, `u:p@host/x`. A `user:password@` part
    goes entirely."""
    end = len(re.split(r"[?#]", url, maxsplit=1)[0])
    at = url.rfind("@", 0, end)
    if at < 0:
        return url
    start = url.rfind("/", 0, at) + 1
    if ":" not in url[start:at]:
        return url
    return url[:start] + url[at + 1:]


def _without_query(url: str, start: int) -> str:
    # Tokens travel in queries too (`?access_token=`); a fragment has no use in a remote.
    return url[:start] + re.split(r"[?#]", url[start:], maxsplit=1)[0]


def _malformed_userinfo_end(url: str, start: int, authority_end: int) -> int:
    # `https://user:pa/ss@host/x`: a `/` inside the password. A `:` before the first
    # `/` that is not followed by a port number can only be a password's start.
    colon = url.find(":", start, authority_end)
    if colon < 0 or url[colon + 1:authority_end].isdigit():
        return -1
    return url.find("@", authority_end)


class MissingHistory(CapabilityError):
    """A ref or merge base that this checkout does not have (shallow clone, not fetched)."""


class NotACheckout(CapabilityError):
    """No `.git` from the directory asked about upward."""


class OutOfTime(CapabilityError):
    """The run's wall clock ran out while git worked: no further question is asked."""


class LiveGit:
    """Answers git questions by running git in the source checkout.

    `on_missing_history` is the operator's choice when a ref or a merge base is
    missing: `"error"` (the default), or `"all_changed"`, where every tracked file
    counts as changed and a line is added to `warnings` for the parent to show.
    `env_branch` is the branch the CI environment names; it wins over the checkout's
    (which is detached in most CI checkouts). `memory_mb` is git's address-space limit
    (the run's memory limit in the engine). With `wall_seconds` (the run's wall-clock
    limit, counted from now) no git command may outlast the run: the sandbox waits for
    the answer, so git's time is the pipeline's time.
    """

    def __init__(self, src_dir: str | os.PathLike[str], *, on_missing_history: str = "error",
                 env_branch: str | None = None, timeout_seconds: float = 120.0,
                 wall_seconds: float | None = None,
                 memory_mb: int = DEFAULT_MEMORY_MB) -> None:
        if on_missing_history not in ON_MISSING_HISTORY:
            raise ValueError(f"on_missing_history must be one of {ON_MISSING_HISTORY}")
        self.src_dir = os.fspath(src_dir)
        self.on_missing_history = on_missing_history
        self.env_branch = env_branch or None
        self.timeout_seconds = timeout_seconds
        self.wall_seconds = wall_seconds
        self.memory_mb = memory_mb
        self._deadline = None if wall_seconds is None else time.monotonic() + wall_seconds
        self.warnings: list[str] = []
        self._empty_tree: str | None = None
        # Every git command's outcome, by (directory, arguments): the checkout does not
        # change during an evaluation, so no question is put to git twice.
        self._asked: dict[tuple[Checkout, tuple[str, ...]],
                          tuple[bytes, str] | CapabilityError] = {}
        self._checkouts: dict[Path, Checkout | None] = {}

    # -- running git ------------------------------------------------------------------

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
                raise CapabilityError(f"base_dir {_shown(base_dir)} is not a usable path") \
                    from None
            if not inside:
                raise CapabilityError(f"base_dir {_shown(base_dir)} is outside the source "
                                      "directory")
            if not is_dir:
                raise CapabilityError(f"base_dir {_shown(base_dir)} is not a directory")
        if start not in self._checkouts:
            self._checkouts[start] = find_checkout(start)
        checkout = self._checkouts[start]
        if checkout is None:
            where = "the source directory" if base_dir is None else \
                f"base_dir {_shown(base_dir)}"
            raise NotACheckout(f"{where} is not a git repository (no `.git` in it or "
                               "above it)")
        return checkout

    def _git(self, cwd: Checkout, *args: str) -> bytes:
        return self._execute(cwd, args)[0]

    def _execute(self, cwd: Checkout, args: tuple[str, ...]) -> tuple[bytes, str]:
        """stdout, untouched (git's `-z` output may end in a newline), and stderr;
        asked once per checkout and arguments, failures included."""
        key = (cwd, args)
        if key not in self._asked:
            try:
                self._asked[key] = self._run_git(cwd, args)
            except CapabilityError as failure:
                self._asked[key] = failure
        outcome = self._asked[key]
        if isinstance(outcome, CapabilityError):
            raise type(outcome)(str(outcome)) from None
        return outcome

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
        try:
            return self._git(cwd, *args).decode("utf-8", "replace").strip() or None
        except (OutOfTime, GitUnusable):
            raise
        except CapabilityError:
            return None

    def _is_repository(self, cwd: Checkout) -> bool:
        return self._try(cwd, "rev-parse", "--absolute-git-dir") is not None

    def _resolves(self, cwd: Checkout, rev: str) -> bool:
        return self._commit_id(cwd, rev) is not None

    def _is_shallow(self, cwd: Checkout) -> bool:
        return self._try(cwd, "rev-parse", "--is-shallow-repository") == "true"

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
            try:
                empty = self._root_parent(cwd, frm, to, failure)
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

    def _root_parent(self, cwd: Checkout, frm: str, to: str | None,
                     failure: CapabilityError) -> str:
        """After a failed diff: the empty tree when `frm` is the parent of a root commit
        `to`; otherwise raise what went wrong, naming the missing ref."""
        if not self._is_repository(cwd):
            raise CapabilityError("the source is not a usable git checkout") from None
        old, new, three_dot = range_sides(frm, to)
        parent_of = _PARENT_FORM.fullmatch(old)
        # `X^` against X, also when X is named another way (`@^` and HEAD, `main^` and
        # HEAD on main): the parent of a root commit is the empty tree.
        if not three_dot and parent_of is not None and self._is_root(cwd, new) and (
                parent_of.group(1) == new
                or self._commit_id(cwd, parent_of.group(1)) == self._commit_id(cwd, new)):
            return self._empty_tree_id(cwd)
        missing = [rev for rev in dict.fromkeys((old, new)) if not self._resolves(cwd, rev)]
        shallow = self._is_shallow(cwd)
        if missing:
            raise MissingHistory(self._missing_ref_message(cwd, missing[0], shallow)) from None
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

    def _missing_ref_message(self, cwd: Checkout, ref: str, shallow: bool) -> str:
        """Why `ref` is not in this checkout, and what to fetch."""
        name = _REF_NAME.split(ref, maxsplit=1)[0]
        deepen = "`git fetch --deepen=<commits>` or `git fetch --unshallow`"
        hints: list[str] = []
        if name in ("", "@", "HEAD") and "@{" in ref:
            where = "this checkout's reflog has no such entry"
        elif name == ref or not self._resolves(cwd, name):
            close = self._closest_ref(cwd, name)
            where = "a branch or tag that was not fetched?"
            if close is not None:
                where = f"did you mean {close!r}? if not, a branch or tag that was not fetched"
            hints.append(f"`git fetch {_fetch_source(name, self._remotes(cwd))}`")
            if shallow and name != ref:
                hints.append(deepen)
        elif shallow:
            where = "the clone is shallow and its history stops before it"
            hints.append(deepen)
        else:
            where = "the history of this checkout does not go back that far"
        message = f"unknown git ref {ref!r}: it is not in this checkout ({where})"
        if hints:
            message += f"; fetch it before the ingest job runs, e.g. {' or '.join(hints)}"
        return message

    def _closest_ref(self, cwd: Checkout, name: str) -> str | None:
        """An existing branch, remote branch or tag whose name is a likely typo of `name`."""
        from engine.common.suggest import closest

        listed = self._try(cwd, "for-each-ref", "--format=%(refname:short)",
                           "refs/heads", "refs/remotes", "refs/tags") or ""
        return closest(name, [r for r in listed.splitlines() if r != name], cutoff=0.75)

    def _remotes(self, cwd: Checkout) -> list[str]:
        return (self._try(cwd, "remote") or "").split()

    def _commit_id(self, cwd: Checkout, rev: str) -> str | None:
        return self._try(cwd, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}")

    def _is_root(self, cwd: Checkout, rev: str) -> bool:
        # The commit object itself, not `rev-list --parents`: in a shallow clone the
        # oldest commit looks parentless to rev-list although its parent exists.
        text = self._try(cwd, "cat-file", "commit", f"{rev}^{{commit}}")
        if text is None:
            return False
        header = text.split("\n\n", 1)[0]
        return not any(line.startswith("parent ") for line in header.splitlines())

    def _empty_tree_id(self, cwd: Checkout) -> str:
        # The id depends on the repository's hash algorithm: ask git, never hard-code it.
        if self._empty_tree is None:
            value = self._try(cwd, "hash-object", "-t", "tree", os.devnull)
            if value is None:
                raise CapabilityError("cannot compute the empty tree id")
            self._empty_tree = value
        return self._empty_tree

    def _all_tracked(self, cwd: Checkout, frm: str, to: str | None,
                     missing: MissingHistory) -> list[str]:
        new = range_sides(frm, to)[1]
        tree = next((rev for rev in (new, "HEAD") if self._resolves(cwd, rev)), None)
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
        if self._commit_id(cwd, rev) is None:
            raise MissingHistory(self._missing_ref_message(cwd, rev, self._is_shallow(cwd)))
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


def _shown(text: str) -> str:
    """A name the pipeline chose, quoted with control characters escaped."""
    return repr(text)


def _label(frm: str, to: str | None = None) -> str:
    return frm if to is None else f"{frm}..{to}"


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
