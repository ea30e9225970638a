"""Test every commit; deploy to production only from main.

The Python twin of examples/pipelines/test_then_deploy.star: the ingest job does no work
itself. It schedules a "test" job for every push and, on main, a "deploy-production" job
that waits for that test to pass.
"""

from __future__ import annotations

import sys

from workflow import trigger_job, workflow_context


def main() -> int:
    with workflow_context() as ctx:
        test = trigger_job("test", job_command="make test")

        if ctx.branch == "main":
            ctx.trigger_job(
                "deploy-production",
                env={"COMMIT": ctx.commit or "unknown"},
                depends_on=[test],
                job_command="make deploy",
            )
        else:
            print(f"branch {ctx.branch}: tests only, no deploy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
