"""Upstream's context_manager_example, on the workflow API.

The Python twin of examples/pipelines/context_manager_example.star. If the last commit
adds or changes a file that looks like a committed secret (a .env file, a private key),
the script exits 1 inside the `workflow_context()` block, so nothing is written.
Otherwise it schedules:

    test               always
    validate-release   on release/* branches, after test
    sign-artifacts     when HEAD is tagged, after test
    integration-test   on main or a branch whose name contains "pr-", after test
"""

from __future__ import annotations

import sys

from workflow import git_info, workflow_context

SECRET_NAMES = (".env", "id_rsa", "id_ed25519")
SECRET_SUFFIXES = (".pem", ".key", ".p12")


def looks_secret(path: str) -> bool:
    """True for file names that usually hold credentials."""
    name = path.split("/")[-1]
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def main() -> int:
    with workflow_context() as ctx:
        info = git_info()
        commit = info["commit"] or "unknown"
        print(f"Analyzing commit: {info['short_commit']}")

        findings = [path for path in ctx.changed_files() if looks_secret(path)]
        if findings:
            # An exception (SystemExit included) ends the block without a flush.
            sys.exit("security scan: possible secrets committed: " + ", ".join(findings))
        print("Security scan passed")

        test = ctx.trigger_job(
            "test",
            env={"SECURITY_SCAN_PASSED": "true", "COMMIT": commit},
        )

        branch = ctx.branch or ""

        if branch.startswith("release/"):
            ctx.trigger_job(
                "validate-release",
                env={"RELEASE_BRANCH": branch, "COMMIT": commit},
                depends_on=[test],
            )

        if info["tag"]:
            ctx.trigger_job(
                "sign-artifacts",
                env={"TAG": info["tag"], "COMMIT": commit},
                depends_on=[test],
            )

        if branch == "main" or "pr-" in branch:
            ctx.trigger_job(
                "integration-test",
                env={"TEST_SUITE": "integration", "COMMIT": commit},
                depends_on=[test],
                timeout=3600,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
