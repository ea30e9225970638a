"""What an eval job fetches for a pull request, against a full clone.

Builds (in a temporary directory) a bare repository whose tip has 100,000 files and a
history of 300 commits on main, plus a pull request branch of 3 commits; then checks out
the pull request's head as an eval job does (`engine.run.checkout.check_out_code`: the head
and the base commit, limited depth, deepened to the merge base) and, for comparison,
makes a full `git clone` (checked out) over the same `file://` transport. Prints wall time and the
size of the fetched `.git` for both. Numbers only; nothing is asserted.

    python -m tests.bench.checkout_bench
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

FILES = 100_000
HISTORY = 300
CHANGED_PER_COMMIT = 100


def _fast_import(bare: Path) -> tuple[str, str]:
    """Write the history with git fast-import; return (base sha, pull request head sha)."""
    lines: list[bytes] = []
    mark = 0

    def blob(text: str) -> int:
        nonlocal mark
        mark += 1
        data = text.encode()
        lines.append(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
        return mark

    def commit(ref: str, message: str, files: dict[str, int], parent: int | None) -> int:
        nonlocal mark
        mark += 1
        body = [b"commit %s\nmark :%d\n" % (ref.encode(), mark),
                b"committer Bench <b@example.com> 1700000000 +0000\n",
                b"data %d\n%s\n" % (len(message), message.encode())]
        if parent is not None:
            body.append(b"from :%d\n" % parent)
        body += [b"M 100644 :%d %s\n" % (m, p.encode()) for p, m in files.items()]
        lines.append(b"".join(body) + b"\n")
        return mark

    first = {f"src/d{i // 1000:03d}/f{i:06d}.txt": blob(f"file {i}\n" + "x" * 200)
             for i in range(FILES)}
    tip = commit("refs/heads/main", "initial", first, None)
    for n in range(HISTORY):
        # Changes that do not compress away, as real edits do not.
        changed = {f"src/d{(n * 7 + k) % 100:03d}/f{((n * 7 + k) % 100) * 1000 + k:06d}.txt":
                   blob(f"version {n} of {k}\n" + os.urandom(512).hex())
                   for k in range(CHANGED_PER_COMMIT)}
        tip = commit("refs/heads/main", f"change {n}", changed, tip)
    base_mark = tip
    head = tip
    for n in range(3):
        head = commit("refs/heads/feature", f"pr {n}", {f"pr/file{n}.txt": blob(f"pr {n}\n")},
                      head)
    lines.append(b"get-mark :%d\nget-mark :%d\n" % (base_mark, head))
    result = subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(lines),
                            capture_output=True, check=True)
    base, pr_head = result.stdout.decode().split()
    return base, pr_head


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    from engine.run.checkout import check_out_code, git_environment

    root = Path(tempfile.mkdtemp(prefix="checkout-bench-"))
    try:
        bare = root / "repo.git"
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
        started = time.monotonic()
        base, head = _fast_import(bare)
        subprocess.run(["git", "-C", str(bare), "repack", "-adq"], check=True)
        # The clone checks out the pull request's head, as the engine does.
        subprocess.run(["git", "-C", str(bare), "symbolic-ref", "HEAD", "refs/heads/feature"],
                       check=True)
        print(f"built {FILES} files, {HISTORY + 4} commits in "
              f"{time.monotonic() - started:.1f} s; repository {_size(bare) / 1e6:.1f} MB")
        url = f"file://{bare}"

        started = time.monotonic()
        check_out_code(str(root / "pr"), url, head, base_sha=base, base_ref="main",
                       env=git_environment(None), deadline=time.monotonic() + 600,
                       timeout_seconds=600)
        pr_seconds = time.monotonic() - started
        pr_bytes = _size(root / "pr" / ".git")

        started = time.monotonic()
        subprocess.run(["git", "clone", "-q", "--no-local", url, str(root / "full")],
                       check=True, env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull})
        full_seconds = time.monotonic() - started
        full_bytes = _size(root / "full" / ".git")
        print(f"pull request event (engine): {pr_seconds:.2f} s, .git {pr_bytes / 1e6:.1f} MB")
        print(f"full clone:                  {full_seconds:.2f} s, .git {full_bytes / 1e6:.1f} MB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
