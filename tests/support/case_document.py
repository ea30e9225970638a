"""`python tests/support/case_document.py CASE`: run one `engine test` case and print
its verdict and the triggers document it produced, as one JSON object, for tests that
compare that document with what another program writes."""

from __future__ import annotations

import json
import sys

from engine.pipeline_tests.runner import run_one
from engine.policy import load_policy


def main(path: str) -> None:
    """Print `{"problem", "detail", "document"}` for the case at `path`."""
    verdict = run_one(path, load_policy([]), False, lambda: None)
    document = verdict.document.decode("utf-8") if verdict.document is not None else None
    print(json.dumps({"problem": verdict.problem, "detail": verdict.detail,
                      "document": document}))


if __name__ == "__main__":
    main(sys.argv[1])
