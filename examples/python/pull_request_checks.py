"""React to pull requests: the usual checks on every one, extra scrutiny for forks.

The Python twin of examples/pipelines/pull_request_checks.star. A pull request never
deploys: `ctx.branch` is None for every pull request event, and `ctx.pr` holds the pull
request's facts.
"""

from __future__ import annotations

import sys

from workflow import trigger_job, workflow_context


def main() -> int:
    with workflow_context() as ctx:
        test = trigger_job("test", job_command="make test")

        pr = ctx.pr
        if pr is not None:
            print(f"pull request #{pr.number} from {pr.head_ref} into {pr.base_ref}")
            if pr.is_fork:
                trigger_job("dependency-audit", job_command="make audit", depends_on=[test])
                trigger_job("license-scan", job_command="make license-scan")
            if ctx.event == "pull_request_merged":
                trigger_job("post-merge-smoke", job_command="make smoke", depends_on=[test])
        elif ctx.branch == "main":
            trigger_job("deploy-staging", job_command="make deploy-staging",
                        depends_on=[test])
        else:
            print("not a pull request: tests only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
