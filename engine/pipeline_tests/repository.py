"""A case's `[repository]` table: a real git repository built for an end-to-end run.

The table is checked when the case is read (engine.pipeline_tests.cases); the repository
is built in a temporary directory when the case runs (`Repositories`). Commits get a fixed author,
committer and dates, so the same table gives the same commit ids on every machine, and
a golden file may name them.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

IDENTITY = "Pipeline Test <pipeline-test@example.invalid>"
FIRST_DATE = 1_700_000_000  # commit N is dated N minutes later


class BuildError(Exception):
    """git could not build a case's repository; the message says why."""


def _stream(spec: dict[str, Any]) -> bytes:
    """The repository as a `git fast-import` stream: one process builds it all."""
    out = bytearray()

    def data(text: bytes) -> None:
        out.extend(b"data %d\n" % len(text) + text + b"\n")

    branch = spec["branch"].encode()
    for number, files in enumerate(spec["commits"], 1):
        stamp = f"{IDENTITY} {FIRST_DATE + 60 * number} +0000\n".encode()
        out.extend(b"commit refs/heads/" + branch + b"\nmark :%d\n" % number)
        out.extend(b"author " + stamp + b"committer " + stamp)
        data(b"commit %d\n" % number)
        for path, content in files.items():
            quoted = path.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"')
            quoted = b'"' + quoted.replace(b"\n", b"\\n") + b'"'
            if content is None:
                out.extend(b"D " + quoted + b"\n")
            else:
                out.extend(b"M 100644 inline " + quoted + b"\n")
                data(content.encode())
        out.extend(b"\n")
    last = len(spec["commits"])
    for name, at in spec["origin"].items():
        out.extend(b"reset refs/remotes/origin/" + name.encode() + b"\nfrom :%d\n\n" % at)
    for tag in spec["tags"]:
        if tag["message"] is None:
            out.extend(b"reset refs/tags/" + tag["name"].encode() + b"\nfrom :%d\n\n"
                       % tag["at"])
        else:
            stamp = f"{IDENTITY} {FIRST_DATE + 60 * last} +0000\n".encode()
            out.extend(b"tag " + tag["name"].encode() + b"\nfrom :%d\ntagger " % tag["at"]
                       + stamp)
            data(tag["message"].encode() + b"\n")
    return bytes(out)


def build(spec: dict[str, Any], path: str) -> None:
    """Make the repository `spec` (a checked `[repository]` table) describes at `path`, a
    new directory; BuildError when git fails."""
    import subprocess

    from engine.capabilities.git.runner import git_environment

    env = git_environment()

    def git(*args: str, feed: bytes | None = None) -> None:
        done = subprocess.run(
            ["git", "-c", "init.defaultBranch=" + spec["branch"], "-c", "core.autocrlf=false",
             "-c", "core.fsmonitor=false", "-c", "advice.detachedHead=false",
             "-c", f"core.hooksPath={os.devnull}", *args],
            cwd=path, env=env, input=feed, capture_output=True, check=False)
        if done.returncode != 0:
            words = done.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
            raise BuildError(f"cannot build the repository: git {args[0]} failed"
                            + (f": {words[0]}" if words else ""))

    os.makedirs(path)
    git("init", "--quiet")
    git("fast-import", "--quiet", "--done", feed=_stream(spec) + b"done\n")
    if spec["remote_url"] is not None:
        git("remote", "add", "origin", spec["remote_url"])
    if spec["detached"]:
        git("checkout", "--quiet", "--detach", spec["branch"])
    else:
        git("reset", "--quiet", "--hard")


class Repositories:
    """The repositories a run of cases builds: each table once (cases with the same
    table share it), copied afresh for every case that uses it, all in one temporary
    directory removed by `close`."""

    def __init__(self) -> None:
        import threading

        self._root: str | None = None
        self._built: dict[str, str] = {}
        self._lock = threading.Lock()
        self._copies = 0

    def checkout(self, spec: dict[str, Any]) -> str:
        """A fresh copy of the repository `spec` describes, for one case."""
        import json
        import shutil
        import tempfile

        key = json.dumps(spec, sort_keys=True)
        with self._lock:
            if self._root is None:
                self._root = tempfile.mkdtemp(prefix="engine-test-")
            template = self._built.get(key)
            if template is None:
                template = os.path.join(self._root, f"template-{len(self._built)}")
                build(spec, template)
                self._built[key] = template
            self._copies += 1
            copy = os.path.join(self._root, f"case-{self._copies}", "repository")
        shutil.copytree(template, copy, symlinks=True)
        return copy

    def close(self) -> None:
        """Remove every repository built."""
        import shutil

        with self._lock:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self._built.clear()
