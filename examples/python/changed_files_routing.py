"""Run only the jobs that the change needs.

The Python twin of examples/pipelines/changed_files_routing.star: the files that differ
between origin/main and HEAD decide what runs. Python sources trigger "python-tests",
JavaScript or TypeScript sources trigger "js-tests", and anything under docs/ triggers
"build-docs". A change that touches none of these triggers nothing.
"""

from __future__ import annotations

import sys

from workflow import workflow_context


def any_endswith(paths: list[str], suffixes: tuple[str, ...]) -> bool:
    """True when some path ends with one of the suffixes."""
    return any(path.endswith(suffixes) for path in paths)


def any_under(paths: list[str], folder: str) -> bool:
    """True when some path lies in a folder of that name, at any depth."""
    return any(path.startswith(folder) or ("/" + folder) in path for path in paths)


def main() -> int:
    with workflow_context() as ctx:
        files = ctx.changed_files("origin/main", "HEAD")
        print(f"{len(files)} files changed since origin/main")

        if any_endswith(files, (".py",)):
            ctx.trigger_job("python-tests", job_command="pytest -q")

        if any_endswith(files, (".js", ".ts")):
            ctx.trigger_job("js-tests", job_command="npm test")

        if any_under(files, "docs/"):
            ctx.trigger_job("build-docs", job_command="make docs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
