"""Generate jobs from data.

The Python twin of examples/pipelines/dynamic_matrix.star: one test job per entry of a
Python/OS matrix, each in its own container image, and a "build" that waits for all of
them. The macOS leg is slow, so it is added on main only.
"""

from __future__ import annotations

import sys

from workflow import workflow_context

MATRIX = [
    {"python": "3.9", "os": "ubuntu"},
    {"python": "3.10", "os": "ubuntu"},
    {"python": "3.11", "os": "ubuntu"},
]


def job_name(entry: dict[str, str]) -> str:
    """test-py<version>-<os>, e.g. test-py3.11-ubuntu."""
    return f"test-py{entry['python']}-{entry['os']}"


def main() -> int:
    with workflow_context() as ctx:
        matrix = list(MATRIX)
        if ctx.branch == "main":
            matrix.append({"python": "3.11", "os": "macos"})

        tests = [
            ctx.trigger_job(
                job_name(entry),
                env={"PYTHON_VERSION": entry["python"], "OS": entry["os"]},
                container_image=f"python:{entry['python']}-slim",
            )
            for entry in matrix
        ]

        ctx.trigger_job("build", depends_on=tests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
