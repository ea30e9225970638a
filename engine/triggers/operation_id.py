"""The idempotency key of a triggers document, derived from the run's inputs.

The id names a decision: the same job id, commit, jobs and previous file give the same
id, whatever program made the decision (a `pipeline.star` and its Python twin agree), and
any difference gives another. When appending to an existing file, its id is one of the
inputs, so the combined document gets a new id of its own (the coordinator must not take
it for the earlier, smaller submission).
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# Jobs encoded per call of the encoder.
_SLICE = 256


def _sha256() -> Any:
    # The builtin module avoids loading OpenSSL through hashlib (milliseconds at start-up).
    try:
        from _sha256 import sha256  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # pragma: no cover - Python 3.12+ names it _sha2
        from hashlib import sha256
    return sha256()


def derive(
    *,
    job_id: str | None,
    commit: str | None,
    jobs: list[dict[str, Any]],
    previous: str | None,
) -> str:
    """A UUID-shaped (version 8) id from a SHA-256 of the canonical inputs."""
    derivation = Derivation(job_id=job_id, commit=commit)
    for job in jobs:
        derivation.add(job)
    return derivation.finish(previous)


class Derivation:
    """An id being derived while its jobs arrive, in order: `derive` made in steps.

    The canonical text is the compact, key-sorted JSON of {"commit", "job_id", "jobs",
    "previous"}; it is hashed a slice of jobs at a time: the text of every job never
    exists at once, and each slice is one call of the C encoder (one call per job
    spent more time setting the encoder up than encoding). `tags` lists what the caller
    said each job was, so that it can tell which jobs the id covers.
    """

    def __init__(self, *, job_id: str | None, commit: str | None) -> None:
        self.job_id = job_id
        self.commit = commit
        self.tags: list[object] = []
        self._dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode
        self._digest = _sha256()
        self._digest.update(f'{{"commit":{self._dumps(commit)},"job_id":'
                            f'{self._dumps(job_id)},"jobs":['.encode())
        self._separator = ""
        self._slice: list[dict[str, Any]] = []

    def add(self, job: dict[str, Any], tag: object = None) -> None:
        """The next job's document (read now or later: it must not change meanwhile)."""
        self._slice.append(job)
        self.tags.append(tag)
        if len(self._slice) >= _SLICE:
            self._hash_slice()

    def _hash_slice(self) -> None:
        if self._slice:
            # "[a,b]" without its brackets is "a,b": slices join with a comma, as jobs do.
            text = self._dumps(self._slice)[1:-1]
            self._digest.update((self._separator + text).encode("utf-8"))
            self._separator = ","
            self._slice = []

    def finish(self, previous: str | None) -> str:
        """The id of the jobs added so far with `previous`; more jobs may follow."""
        self._hash_slice()
        digest_of = self._digest.copy()
        digest_of.update(f'],"previous":{self._dumps(previous)}}}'.encode())
        digest = bytearray(digest_of.digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x80  # version 8: custom
        digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
