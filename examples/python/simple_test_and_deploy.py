"""Upstream's simple_test_and_deploy example, on the workflow API.

The Python twin of examples/pipelines/simple_test_and_deploy.star. Upstream ran the
tests inside the ingest job and then triggered a deploy that depends on a "test" job
nothing ever created, so that deploy would wait forever. Here the tests are their own
job, and on main "deploy-production" depends on it.

Written in the guide's Quick Start style: module-level functions and an explicit
`flush_triggers()` at the end.
"""

from __future__ import annotations

import sys

from workflow import WorkflowContext, flush_triggers, git_info, trigger_job


def main() -> int:
    ctx = WorkflowContext()
    info = git_info()
    print(f"Running on branch: {info['branch']}")
    print(f"Commit: {info['short_commit']}")

    trigger_job(
        "test",
        job_command="pytest tests/ -v",
    )

    if ctx.branch == "main":
        trigger_job(
            "deploy-production",
            env={
                "DEPLOY_TARGET": "production",
                "BUILD_COMMIT": info["commit"] or "unknown",
            },
            depends_on=["test"],
            condition="all_success",
        )
    else:
        print(f"Deploy skipped: branch {ctx.branch} is not main")

    flush_triggers()
    return 0


if __name__ == "__main__":
    sys.exit(main())
