"""Release when HEAD carries a tag.

The Python twin of examples/pipelines/tag_release.star: every push is tested. When
git_info() reports a tag on HEAD (lightweight or annotated; CI usually checks tags out
detached), the release chain follows the tests: build the artifacts, sign them, publish
them.
"""

from __future__ import annotations

import sys

from workflow import git_info, workflow_context


def main() -> int:
    with workflow_context() as ctx:
        info = git_info()
        test = ctx.trigger_job("test")
        tag = info["tag"]

        if tag:
            print(f"release tag detected: {tag}")
            build = ctx.trigger_job(
                "build-release",
                env={"TAG": tag, "RELEASE": "true"},
                depends_on=[test],
            )
            sign = ctx.trigger_job(
                "sign-artifacts",
                env={"TAG": tag},
                depends_on=[build],
            )
            ctx.trigger_job(
                "publish-release",
                env={"TAG": tag},
                depends_on=[sign],
            )
        else:
            print(f"no tag on {info['short_commit']}: tests only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
