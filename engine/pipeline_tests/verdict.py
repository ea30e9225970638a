"""The result of one pipeline test case."""

from __future__ import annotations

from engine.common.record import Record


class Verdict(Record):
    """One case's result: `problem` None when it passed; `detail` the diff, errors or
    output that explain a failure; `updated` the golden file `--update` rewrote;
    `document` the triggers document the run produced (None when it failed or did not
    run; empty when it triggered nothing)."""

    __slots__ = ("detail", "document", "path", "problem", "updated")

    def __init__(self, path: str, problem: str | None = None, detail: str = "",
                 updated: str | None = None, document: bytes | None = None) -> None:
        self.path = path
        self.problem = problem
        self.detail = detail
        self.updated = updated
        self.document = document
