"""Every git command the engine runs goes through here.

Git is run as a plain subprocess with its repository named explicitly: the git
directory of the checkout (its `.git` directory, or the gitfile git writes for
worktrees and submodules), found from the source root upward. Git never discovers a
repository by itself, so a directory of repository content shaped like a bare
repository is never read as one (git refuses to commit a path named `.git`, so content
cannot supply that entry). Each invocation also gets a fixed minimal environment
(no token, no system or global configuration, no lazy fetch), options that keep the
repository's configuration from running programs or reaching the network, the run's
remaining wall time, an address-space limit and its own process group.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import re
import time

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

# GIT_CONFIG_GLOBAL (2.32) is what keeps the operator's and the user's configuration
# out; older git would read ~/.gitconfig whatever the engine asks.
MIN_VERSION = (2, 32)
DEFAULT_MEMORY_MB = 2048
DEFAULT_TIMEOUT_SECONDS = 120.0
_STDERR_LIMIT = 64 * 1024

# Options for every command: the repository's configuration must not run programs,
# open a pager, reach the network or change the output format.
_CONFIG = (
    "core.fsmonitor=false",
    f"core.hooksPath={os.devnull}",
    "core.pager=cat",
    "core.quotepath=false",
    "core.askPass=",
    "core.sshCommand=false",
    "core.untrackedCache=false",
    "credential.helper=",
    "diff.external=",
    "gc.auto=0",
    "maintenance.auto=false",
    "fetch.recurseSubmodules=false",
    "submodule.recurse=false",
)


class GitError(CapabilityError):
    """Git failed; the message is the engine's own words, never git's stderr."""


class GitUnusable(GitError):
    """Git is missing, cannot start, is too old, or hit its memory limit: no further
    question is worth asking."""


class OutOfMemory(GitUnusable):
    """Git stopped at its address-space limit."""


class OutOfTime(GitError):
    """The run's wall clock ran out while git worked."""


class Checkout:
    """A checkout's git directory and work tree, as git is told them."""

    __slots__ = ("git_dir", "work_tree")

    def __init__(self, git_dir: Path, work_tree: Path) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkout) and (self.git_dir, self.work_tree) == (
            other.git_dir, other.work_tree)

    def __hash__(self) -> int:
        return hash((self.git_dir, self.work_tree))


def git_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The whole environment a git process gets: nothing inherited but a search path.

    No token, no system or global configuration, no prompt, no lazy fetch of a partial
    clone's missing objects. `extra` adds what one command needs (a clone's credential
    configuration, for example `GIT_CONFIG_GLOBAL` naming the worker's file).
    """
    env = {
        "PATH": os.environ.get("PATH") or os.defpath,
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_ATTR_NOSYSTEM": "1",
        "GIT_NO_LAZY_FETCH": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_PAGER": "cat",
        "PAGER": "cat",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_PROTOCOL_FROM_USER": "0",
        "HOME": os.devnull,
        "XDG_CONFIG_HOME": os.devnull,
    }
    if extra:
        env.update(extra)
    return env


def git_config_args(*, network: bool = False) -> tuple[str, ...]:
    """The `-c` options every git command gets, before its subcommand.

    `network=True` is for a clone or fetch the engine itself starts: only then may git
    use a transport (git's default `protocol.allow`, with `ext::` refused explicitly).
    """
    args: list[str] = ["--no-pager", "--no-replace-objects"]
    settings = (("protocol.ext.allow=never", *_CONFIG) if network
                else ("protocol.allow=never", *_CONFIG))
    for setting in settings:
        args += ["-c", setting]
    return tuple(args)


# subprocess (and threading, which it imports) and pathlib are loaded on first use: a
# run whose pipeline asks git nothing never needs them.
_version_checked: tuple[int, ...] | None = None
_version_lock = _thread.allocate_lock()
_version_started: subprocess.Popen[bytes] | None = None
_running: set[subprocess.Popen[bytes]] = set()
_running_lock = _thread.allocate_lock()


def start_version_check() -> None:
    """Start `git version` now, so that its answer is ready when the first git command
    runs (`check_version` collects it). Failures are left for `check_version`."""
    import subprocess

    global _version_started
    with _version_lock:
        if _version_checked is not None or _version_started is not None:
            return
        try:
            started = subprocess.Popen(
                ["git", "version"], env=git_environment(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            return
        with _running_lock:  # a stopped run kills it like any other git command
            _running.add(started)
        _version_started = started


def check_version() -> tuple[int, ...]:
    """Git's version; GitError when git is missing or older than MIN_VERSION."""
    import subprocess

    global _version_checked, _version_started
    with _version_lock:
        if _version_checked is None:
            started, _version_started = _version_started, None
            try:
                if started is not None:
                    try:
                        stdout = started.communicate(timeout=30)[0]
                    except BaseException:  # timed out, or the run is being stopped
                        _kill_group(started)
                        started.wait()
                        raise
                    finally:
                        with _running_lock:
                            _running.discard(started)
                    returncode = started.returncode
                else:
                    done = subprocess.run(["git", "version"], capture_output=True,
                                          timeout=30, env=git_environment(),
                                          stdin=subprocess.DEVNULL, check=False)
                    stdout, returncode = done.stdout, done.returncode
            except FileNotFoundError:
                raise GitUnusable("git is not installed") from None
            except (OSError, subprocess.TimeoutExpired):
                raise GitUnusable("git could not be started") from None
            found = re.search(rb"(\d+)\.(\d+)(?:\.(\d+))?", stdout)
            if returncode != 0 or found is None:
                raise GitUnusable("git could not be started (`git version` failed)")
            version = tuple(int(part or 0) for part in found.groups())
            if version[:2] < MIN_VERSION:
                raise GitUnusable(
                    f"git {'.'.join(map(str, version))} is too old: the engine needs git "
                    f"{'.'.join(map(str, MIN_VERSION))} or newer to keep the user's and "
                    "the system's configuration out of its git commands"
                )
            _version_checked = version
        return _version_checked


def run_git(checkout: Checkout, args: tuple[str, ...], *, deadline: float | None = None,
            timeout: float = DEFAULT_TIMEOUT_SECONDS,
            memory_mb: int = DEFAULT_MEMORY_MB) -> tuple[bytes, bytes]:
    """Run `git ARGS` in `checkout`; return (stdout, stderr) or raise GitError.

    `deadline` (a `time.monotonic()` value) bounds the command as well as `timeout`.
    stderr is for the caller's own checks (a warning git printed); it must never be
    shown as it is.
    """
    import subprocess

    check_version()
    budget, by_deadline = timeout, False
    if deadline is not None:
        remaining = deadline - time.monotonic()
        if remaining <= 0.01:
            raise OutOfTime("the wall-clock limit was reached before git could run")
        if remaining < budget:
            budget, by_deadline = remaining, True
    command = ["git", f"--git-dir={checkout.git_dir}", f"--work-tree={checkout.work_tree}",
               *git_config_args(), *args]
    with _stop_signals_held():
        try:
            process = subprocess.Popen(
                command, cwd=checkout.work_tree, env=git_environment(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True, preexec_fn=_limit_memory(memory_mb),
            )
        except FileNotFoundError:
            raise GitUnusable("git is not installed") from None
        except OSError:
            raise GitUnusable("git could not be started") from None
        with _running_lock:
            _running.add(process)
    try:
        out, err = process.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        if by_deadline:
            raise OutOfTime("git did not answer within the run's wall-clock limit") from None
        raise GitError(f"git took longer than {timeout:g} s and was stopped") from None
    except BaseException:
        _kill_group(process)  # the run is being stopped: git goes with it
        process.wait()
        raise
    finally:
        with _running_lock:
            _running.discard(process)
    if process.returncode != 0:
        message = describe_failure(args, process.returncode, err[:_STDERR_LIMIT], memory_mb)
        if "memory limit" in message:
            raise OutOfMemory(message)
        raise GitError(message)
    return out, err


def _limit_memory(memory_mb: int) -> Callable[[], None]:
    def apply() -> None:  # pragma: no cover - runs in the forked child before exec
        import resource
        import signal

        # Git gets the signals the engine held while starting it (_stop_signals_held).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT wait while git starts and is registered: a stop that landed
    in between would leave a git in its own session that nobody kills."""
    import signal

    stops = {signal.SIGTERM, signal.SIGINT}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    import signal

    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def kill_all() -> None:
    """Kill every git process still running (the run is being stopped), and wait for
    each to be gone, so none outlives the engine."""
    with _running_lock:
        running = list(_running)
    if not running:
        return
    import subprocess

    for process in running:
        _kill_group(process)
    for process in running:
        with contextlib.suppress(subprocess.TimeoutExpired, ChildProcessError):
            process.wait(timeout=5)


# Patterns compiled on first use (a failing command), with their flags.
_FAILURES = (
    (rb"dubious ownership", 0,
     "dubious ownership: the repository belongs to another user (see git's "
     "`safe.directory`); run the engine as the checkout's owner"),
    (rb"not a git repository", re.I, "not a git repository"),
    (rb"promisor|lazy fetch|partial clone|protocol .* not allowed|"
     rb"transport .* not allowed|could not fetch|unable to read", re.I,
     "the checkout lacks objects this question needs (a partial clone?); the engine never "
     "fetches them: clone without `--filter`, or fetch before the ingest job runs"),
    (rb"unknown revision|bad revision|ambiguous argument|invalid object name|"
     rb"not a valid object name|bad object", re.I,
     "unknown revision"),
    (rb"shallow", re.I, "missing history (the clone is shallow)"),
)


def describe_failure(args: tuple[str, ...], returncode: int, stderr: bytes,
                     memory_mb: int) -> str:
    """The engine's words for a failed git command (git's own text is never shown)."""
    import signal

    subcommand = next((a for a in args if not a.startswith("-") and "=" not in a), "git")
    if re.search(rb"out of memory|cannot allocate|malloc failed|mmap failed", stderr, re.I) \
            or returncode in (-signal.SIGKILL, -signal.SIGSEGV):
        return (f"git {subcommand} stopped at the memory limit of {memory_mb} MiB")
    for pattern, flags, words in _FAILURES:
        if re.search(pattern, stderr, flags):
            return f"git {subcommand}: {words}"
    if returncode < 0:
        return f"git {subcommand} was killed by signal {-returncode}"
    return f"git {subcommand} failed (exit status {returncode})"
