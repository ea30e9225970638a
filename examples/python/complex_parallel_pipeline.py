"""Upstream's complex_parallel_pipeline example, on the workflow API.

The Python twin of examples/pipelines/complex_parallel_pipeline.star:

    test ─┐
          ├─> build ─> deploy-production   (main only, and only when no
    lint ─┘                                  production deploy is in flight)

The files changed between origin/main and HEAD decide what runs: Python changes need
tests, Python/JavaScript/TypeScript changes need lint, and "build" waits for whichever
of the two were scheduled. A change with no code in it schedules nothing. On main the
coordinator is asked whether "deploy-production" is already running
(REACTORCIDE_COORDINATOR_URL and REACTORCIDE_API_TOKEN must be set there).

The module-level functions act on the open `workflow_context()` block.
"""

from __future__ import annotations

import sys

from workflow import changed_files, git_info, is_job_running, trigger_job, workflow_context


def any_endswith(paths: list[str], suffixes: tuple[str, ...]) -> bool:
    """True when some path ends with one of the suffixes."""
    return any(path.endswith(suffixes) for path in paths)


def main() -> int:
    with workflow_context() as ctx:
        info = git_info()
        commit = info["commit"] or "unknown"
        tag = info["tag"] or ""
        print(f"Branch: {ctx.branch}")
        print(f"Commit: {commit}")

        files = changed_files("origin/main", "HEAD")
        print(f"Found {len(files)} changed file(s)")
        for path in files[:10]:
            print(f"  - {path}")
        if len(files) > 10:
            print(f"  ... and {len(files) - 10} more")

        needs_test = any_endswith(files, (".py",))
        needs_lint = any_endswith(files, (".py", ".js", ".ts"))

        checks = []
        if needs_test:
            checks.append(trigger_job("test", env={"TEST_SUITE": "full", "COMMIT": commit}))
        if needs_lint:
            checks.append(trigger_job(
                "lint",
                env={"LINT_FILES": ",".join(files[:50]), "COMMIT": commit},
            ))

        if not checks:
            print("No code changes: nothing to schedule")
            return 0

        trigger_job(
            "build",
            env={
                "BUILD_TYPE": "release" if ctx.branch == "main" else "debug",
                "COMMIT": commit,
                "TAG": tag,
            },
            depends_on=checks,
            condition="all_success",
            container_image="reactorcide/runner:latest",
            job_command="make build && make package",
        )

        if ctx.branch != "main":
            print(f"Deploy skipped: not on main (branch {ctx.branch})")
        elif is_job_running("deploy-production"):
            print("Deploy already running, not scheduling another")
        else:
            trigger_job(
                "deploy-production",
                env={
                    "DEPLOY_TARGET": "production",
                    "BUILD_COMMIT": commit,
                    "BUILD_TAG": tag,
                },
                depends_on=["build"],
                condition="all_success",
                container_image="reactorcide/runner:latest",
                job_command="python /job/ci/scripts/deploy.py",
                priority=10,
                timeout=1800,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
