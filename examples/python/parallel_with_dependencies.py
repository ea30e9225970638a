"""Fan out, then fan in.

The Python twin of examples/pipelines/parallel_with_dependencies.star: "test" and "lint"
have no dependencies, so the coordinator runs them in parallel. "build" waits until both
have succeeded. "report" depends on "build" with condition "always", so it runs whether
the build passed, failed or was skipped.
"""

from __future__ import annotations

import sys

from workflow import workflow_context


def main() -> int:
    with workflow_context() as ctx:
        ctx.trigger_job("test", env={"SUITE": "full"})
        ctx.trigger_job("lint", env={"TOOL": "ruff"})

        ctx.trigger_job(
            "build",
            depends_on=["test", "lint"],
            condition="all_success",
        )

        ctx.trigger_job(
            "report",
            depends_on=["build"],
            condition="always",
            job_command="make report",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
