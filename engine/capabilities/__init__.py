"""Capabilities: the small interfaces through which builtins reach git and the coordinator.

Every builtin receives its capability instead of reaching for the world itself, so a
live backend, a recorded one and an in-memory test one are interchangeable.
"""

from engine.capabilities.base import CapabilityError, GitSource, JobState

__all__ = ["CapabilityError", "GitSource", "JobState"]
