"""Checkouts an eval job makes for itself: the worker mounts an empty `/job` and clones
nothing, so the trusted CI source and the code are fetched here, in the parent, before
the pipeline runs.

Only what the run needs is fetched: the one commit of the CI source, and the code's
commit with the history its change base needs (`HEAD^` for a push or a tag, the merge
base with the pull request's base otherwise), never the whole repository. Credentials
come only from what the worker provides (`GIT_CONFIG_GLOBAL`); no prompt is ever shown,
and a URL is never printed with credentials in it.
"""

from __future__ import annotations

import os
import time

from engine.core.diagnostics import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Commits fetched at first; the history is deepened by this much until the merge base
# of a pull request is found, a few times, before the whole history is fetched.
FIRST_DEPTH = 50
DEEPEN_STEPS = 4


def git_environment(worker_git_config: str | None) -> dict[str, str]:
    """The only git settings a clone runs with: no prompt, no lazy fetch, no system
    config, and as global config only the worker's (its VCS credentials), else none."""
    return {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": worker_git_config or os.devnull,
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "LC_ALL": "C",
    }


class Checkout:
    """Fetches commits into a directory with a time limit shared by all its commands."""

    def __init__(self, directory: str, url: str, *, env: dict[str, str], deadline: float,
                 timeout_seconds: float, what: str) -> None:
        self.directory = directory
        self.url = url
        self.env = env
        self.deadline = deadline
        self.timeout_seconds = timeout_seconds
        self.what = what

    def _git(self, *args: str, check: bool = True) -> str | None:
        import git

        # GitPython adds this process's environment: no GIT_* setting may come from it.
        for key in [k for k in os.environ if k.startswith("GIT_")]:
            del os.environ[key]
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._failed(f"it took longer than {self.timeout_seconds:g} s "
                               "([checkout] timeout_seconds)")
        runner = git.Git(self.directory)
        runner.update_environment(**self.env)
        try:
            out: Any = runner.execute(
                ["git", "-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null",
                 "-c", "advice.detachedHead=false", *args],
                kill_after_timeout=remaining, with_extended_output=False)
        except git.GitCommandError as err:
            if not check:
                return None
            if time.monotonic() >= self.deadline:
                raise self._failed(f"it took longer than {self.timeout_seconds:g} s "
                                   "([checkout] timeout_seconds)") from None
            raise self._failed(self._reason(str(err.stderr or ""))) from None
        return str(out).strip()

    def _reason(self, stderr: str) -> str:
        from engine.capabilities.git.urls import strip_credentials

        lines = [line.strip() for line in stderr.replace("stderr:", "").splitlines()]
        wanted = [line for line in lines if line.startswith(("fatal:", "error:"))] or [
            line for line in lines if line]
        # The remote may be the pull request author's server: a few short lines only.
        text = "; ".join(line[:300] for line in wanted[-3:]).strip("' ") or (
            "git failed without saying why")
        return text.replace(self.url, strip_credentials(self.url))

    def _failed(self, why: str) -> UsageError:
        from engine.capabilities.git.urls import strip_credentials

        return UsageError(f"cannot check out the {self.what} from "
                          f"{strip_credentials(self.url)}: {why}", self.directory)

    def start(self) -> None:
        """An empty repository with the remote `origin`; refuses a non-empty directory."""
        if os.path.isdir(self.directory) and os.listdir(self.directory):
            raise UsageError(f"the {self.what} directory is not empty and is not a git "
                             "checkout; refusing to write into it", self.directory)
        os.makedirs(self.directory, exist_ok=True)
        self._git("init", "-q")
        self._git("remote", "add", "origin", self.url)

    def fetch(self, ref: str | None, depth: int) -> None:
        """Fetch one ref (a commit id, a branch, a tag; None: the remote's HEAD)."""
        self._git("fetch", "-q", "--no-tags", f"--depth={depth}", "origin", ref or "HEAD")

    def fetch_branch(self, branch: str, depth: int) -> None:
        """Fetch a branch as `origin/<branch>`."""
        self._git("fetch", "-q", "--no-tags", f"--depth={depth}", "origin",
                  f"+refs/heads/{branch}:refs/remotes/origin/{branch}")

    def check_out(self) -> None:
        """Check out what the last fetch brought, detached."""
        self._git("checkout", "-q", "--detach", "FETCH_HEAD")

    def has_commit(self, rev: str) -> bool:
        """Whether the commit is already here (fetched with another one's history)."""
        return self._git("cat-file", "-e", f"{rev}^{{commit}}", check=False) is not None

    def has_merge_base(self, other: str) -> bool:
        """Whether HEAD and `other` meet in the fetched history."""
        return self._git("merge-base", "HEAD", other, check=False) is not None

    def deepen(self, refs: list[str], by: int) -> None:
        """Fetch `by` more commits behind each of `refs`."""
        self._git("fetch", "-q", "--no-tags", f"--deepen={by}", "origin", *refs)

    def unshallow(self, refs: list[str]) -> None:
        """Fetch the whole history behind `refs`."""
        self._git("fetch", "-q", "--no-tags", "--unshallow", "origin", *refs, check=False)


def is_checkout(directory: str) -> bool:
    """A directory holding a git checkout already (made by the worker or a previous step)."""
    return os.path.exists(os.path.join(directory, ".git"))


def check_out_ci(directory: str, url: str, ref: str | None, *, env: dict[str, str],
                 deadline: float, timeout_seconds: float) -> None:
    """The trusted CI source at its ref, one commit deep."""
    checkout = Checkout(directory, url, env=env, deadline=deadline,
                        timeout_seconds=timeout_seconds, what="CI source")
    checkout.start()
    checkout.fetch(ref, 1)
    checkout.check_out()


def check_out_code(directory: str, url: str, sha: str | None, *, base_sha: str | None,
                   base_ref: str | None, env: dict[str, str], deadline: float,
                   timeout_seconds: float) -> None:
    """The code at `sha`, with the history its change base needs: the parent commit, or
    for a pull request enough to reach the merge base with its base."""
    checkout = Checkout(directory, url, env=env, deadline=deadline,
                        timeout_seconds=timeout_seconds, what="code")
    checkout.start()
    pull_request = bool(base_sha or base_ref)
    checkout.fetch(sha, FIRST_DEPTH if pull_request else 2)
    checkout.check_out()
    if not pull_request:
        return
    if base_sha:
        if not checkout.has_commit(base_sha):
            checkout.fetch(base_sha, FIRST_DEPTH)
        other, refs = base_sha, [sha or "HEAD", base_sha]
    else:
        assert base_ref is not None
        checkout.fetch_branch(base_ref, FIRST_DEPTH)
        other = f"origin/{base_ref}"
        refs = [sha or "HEAD", f"+refs/heads/{base_ref}:refs/remotes/origin/{base_ref}"]
    step = FIRST_DEPTH
    for _ in range(DEEPEN_STEPS):
        if checkout.has_merge_base(other):
            return
        step *= 4
        checkout.deepen(refs, step)
    if not checkout.has_merge_base(other):
        checkout.unshallow(refs)
