"""Validate, build, then promote through staging to production.

The Python twin of examples/pipelines/multi_stage.star: stage 1 runs three checks in
parallel, stage 2 builds once all of them pass, stage 3 deploys to staging. Only main
goes on to stage 4, production, which waits for the staging deploy.
"""

from __future__ import annotations

import sys

from workflow import workflow_context


def main() -> int:
    with workflow_context() as ctx:
        validation = [
            ctx.trigger_job("test"),
            ctx.trigger_job("lint"),
            ctx.trigger_job("security-scan"),
        ]

        build = ctx.trigger_job(
            "build",
            depends_on=validation,
            condition="all_success",
        )

        staging = ctx.trigger_job(
            "deploy-staging",
            depends_on=[build],
            env={"TARGET": "staging"},
        )

        if ctx.branch == "main":
            ctx.trigger_job(
                "deploy-production",
                depends_on=[staging],
                env={"TARGET": "production"},
                timeout=1800,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
