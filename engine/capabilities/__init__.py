"""Capabilities: the small interfaces through which builtins reach git, the
coordinator and the pipeline's own files (`base`), with their backends: `git/` (the one
git runner, a live checkout, ref checks, `--changed` files, a checkout described by
data), `coordinator/` (the HTTP transport with its deadline, retries and URL rules, job
state, submission, the backend built on first use, a coordinator described by data),
`source_tree` (confined `load()`), and `answers`, the one cache that keeps each
question's answer or failure.

Every builtin receives its capability instead of reaching for the world itself, so a
live backend, a recorded one and an in-memory test one are interchangeable. Imports
`engine.core` and `engine.common` only.
"""

from engine.capabilities.base import CapabilityError, GitSource, JobState

__all__ = ["CapabilityError", "GitSource", "JobState"]
