"""Capabilities: the small interfaces through which builtins reach git, the
coordinator and the pipeline's own files (`base`), with their backends: `git/` (the one
git runner, a live checkout, ref checks, `--changed` files), `coordinator/` (the HTTP
transport with its deadline and retries, job state, submission), `memory` (both described
by data, for tests and cases) and `source_tree` (confined `load()`).

Every builtin receives its capability instead of reaching for the world itself, so a
live backend, a recorded one and an in-memory test one are interchangeable. Imports
`engine.core` and `engine.common` only.
"""

from engine.capabilities.base import CapabilityError, GitSource, JobState

__all__ = ["CapabilityError", "GitSource", "JobState"]
