"""`GitSource` over a real checkout, through GitPython (imported on first use only)."""

from __future__ import annotations

import os
import re

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

# Options that keep a repository's own configuration from running programs or
# changing the output format.
_SAFE_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.quotepath=false")
_DIFF_OPTIONS = ("--no-ext-diff", "--no-textconv", "--no-renames", "--no-color", "-z")
_REF_RE = re.compile(r"[A-Za-z0-9_./@{}~^:+-]+\Z")


def scrub_git_environment(src_dir: str) -> None:
    """Remove inherited GIT_* settings and keep git from looking above the source dir.

    GitPython always passes this process's environment to git, so it is cleaned here.
    """
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        del os.environ[key]
    os.environ["GIT_CEILING_DIRECTORIES"] = os.path.dirname(os.path.realpath(src_dir))
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"


def check_ref(ref: str) -> str:
    """Refuse refs that git could read as an option or that are not ref expressions."""
    if not ref or ref.startswith("-") or not _REF_RE.match(ref) or ".." in ref.strip("."):
        raise CapabilityError(f"{ref!r} is not a valid git ref")
    return ref


def strip_credentials(url: str) -> str:
    """`https://user:token@host/x` -> `https://host/x`; other forms unchanged."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


class LiveGit:
    """Answers git questions by running git in the source checkout."""

    def __init__(self, src_dir: str | os.PathLike[str]) -> None:
        self.src_dir = os.fspath(src_dir)
        self._empty_tree: str | None = None

    def _base(self, base_dir: str | None) -> Path:
        from pathlib import Path

        root = Path(self.src_dir).resolve()
        if base_dir is None:
            return root
        candidate = Path(base_dir)
        resolved = (candidate if candidate.is_absolute() else root / candidate).resolve()
        if resolved != root and root not in resolved.parents:
            raise CapabilityError(f"base_dir {base_dir!r} is outside the source directory")
        if not resolved.is_dir():
            raise CapabilityError(f"base_dir {base_dir!r} is not a directory")
        return resolved

    def _git(self, cwd: Path, *args: str) -> bytes:
        from git.cmd import Git
        from git.exc import GitCommandError, GitCommandNotFound

        try:
            out = Git(str(cwd)).execute(
                ["git", *_SAFE_CONFIG, *args],
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )
        except GitCommandNotFound:
            raise CapabilityError("git is not installed") from None
        except GitCommandError as err:
            stderr = err.stderr if isinstance(err.stderr, str) else str(err.stderr)
            detail = stderr.strip().removeprefix("stderr:").strip().strip("'").strip()
            first = detail.splitlines()[0] if detail else f"exit status {err.status}"
            raise CapabilityError(first.removeprefix("fatal: ")) from None
        return out if isinstance(out, bytes) else str(out).encode()

    def _try(self, cwd: Path, *args: str) -> str | None:
        try:
            return self._git(cwd, *args).decode("utf-8", "replace").strip() or None
        except CapabilityError:
            return None

    def changed_files(self, from_ref: str, to_ref: str, base_dir: str | None) -> list[str]:
        cwd = self._base(base_dir)
        check_ref(from_ref)
        check_ref(to_ref)
        self._require_repo(cwd)
        base = from_ref
        if self._try(cwd, "rev-parse", "--verify", "-q", f"{from_ref}^{{commit}}") is None:
            if self._is_parent_of_root(cwd, from_ref, to_ref):
                base = self._empty_tree_id(cwd)
            else:
                raise CapabilityError(self._missing_ref_message(from_ref))
        if self._try(cwd, "rev-parse", "--verify", "-q", f"{to_ref}^{{commit}}") is None:
            raise CapabilityError(self._missing_ref_message(to_ref))
        out = self._git(cwd, "diff", "--name-only", *_DIFF_OPTIONS, "--end-of-options",
                        base, to_ref, "--")
        return [p.decode("utf-8", "replace") for p in out.split(b"\0") if p]

    def _require_repo(self, cwd: Path) -> None:
        if self._try(cwd, "rev-parse", "--git-dir") is None:
            raise CapabilityError(f"{cwd} is not a git repository")

    def _is_parent_of_root(self, cwd: Path, from_ref: str, to_ref: str) -> bool:
        if from_ref != f"{to_ref}^":
            return False
        commit = self._try(cwd, "rev-parse", "--verify", "-q", f"{to_ref}^{{commit}}")
        if commit is None:
            return False
        parents = self._try(cwd, "rev-list", "--parents", "-n", "1", commit)
        return parents is not None and len(parents.split()) == 1

    def _empty_tree_id(self, cwd: Path) -> str:
        # The id depends on the repository's hash algorithm: ask git, never hard-code it.
        if self._empty_tree is None:
            value = self._try(cwd, "hash-object", "-t", "tree", os.devnull)
            if value is None:
                raise CapabilityError("cannot compute the empty tree id")
            self._empty_tree = value
        return self._empty_tree

    def _missing_ref_message(self, ref: str) -> str:
        return (
            f"unknown git ref {ref!r}: it does not exist in this checkout "
            "(a shallow clone or a ref that was not fetched? try `git fetch` with enough "
            "depth, e.g. `git fetch --unshallow` or `git fetch origin <branch>`)"
        )

    def info(self, base_dir: str | None) -> dict[str, Any]:
        cwd = self._base(base_dir)
        if self._try(cwd, "rev-parse", "--git-dir") is None:
            # Not a checkout (a copied source, say): every fact is unknown, not an error.
            return dict.fromkeys(("branch", "commit", "short_commit", "tag", "remote_url"))
        commit = self._try(cwd, "rev-parse", "--verify", "-q", "HEAD")
        branch = self._try(cwd, "symbolic-ref", "--short", "-q", "HEAD")
        tags = self._try(cwd, "tag", "--points-at", "HEAD", "--sort=-v:refname")
        remote = self._try(cwd, "config", "--get", "remote.origin.url")
        return {
            "branch": branch,
            "commit": commit,
            "short_commit": commit[:7] if commit else None,
            "tag": tags.splitlines()[0] if tags else None,
            "remote_url": strip_credentials(remote) if remote else None,
        }
