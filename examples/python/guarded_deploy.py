"""Never start a second production deploy while one is in flight.

The Python twin of examples/pipelines/guarded_deploy.star: on main the script asks the
coordinator whether "deploy-production" is submitted, queued, running or cancelling, and
triggers a new deploy only when it is not. It also prints how the last finished deploy
ended. Other branches never deploy and never ask the coordinator.

Needs REACTORCIDE_COORDINATOR_URL and REACTORCIDE_API_TOKEN on main; without them the
lookup raises WorkflowError instead of guessing "not running".
"""

from __future__ import annotations

import sys

from workflow import workflow_context


def main() -> int:
    with workflow_context() as ctx:
        if ctx.branch != "main":
            print(f"branch {ctx.branch} does not deploy")
            return 0

        last = ctx.get_job_result("deploy-production")
        if last:
            print(f"last deploy-production: {last['status']} (job {last['job_id']})")

        if not ctx.is_job_running("deploy-production"):
            ctx.trigger_job(
                "deploy-production",
                env={"COMMIT": ctx.commit or "unknown"},
                timeout=1800,
            )
        else:
            print("Deploy already in progress, skipping")
    return 0


if __name__ == "__main__":
    sys.exit(main())
