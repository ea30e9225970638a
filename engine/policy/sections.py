"""Typed views of the policy's tables, one class per table, one slot per key.

`[limits]` is engine.core.limits.Limits and `[jobs]` engine.core.validate.JobRules (the
core owns how they are enforced); the other tables are here. Their values are already
checked, and their defaults live in engine.policy.schema only.
"""

from __future__ import annotations

from engine.common.record import Record


class BuiltinSettings(Record):
    """`[builtins]`: the builtins that pipelines may not call."""

    __slots__ = ("disabled",)

    def __init__(self, *, disabled: tuple[str, ...]) -> None:
        self.disabled = disabled


class LoadSettings(Record):
    """`[load]`: whether pipelines may `load()` other files, and how many."""

    __slots__ = ("enabled", "max_files")

    def __init__(self, *, enabled: bool, max_files: int) -> None:
        self.enabled = enabled
        self.max_files = max_files


class GitSettings(Record):
    """`[git]`: what a question about missing history gets ("error" or "all_changed")."""

    __slots__ = ("on_missing_history",)

    def __init__(self, *, on_missing_history: str) -> None:
        self.on_missing_history = on_missing_history


class TrustSettings(Record):
    """`[trust]`: which checkout's pipeline an eval job evaluates ("ci" or "code"), and
    whether a fork's pull request may use its own."""

    __slots__ = ("allow_fork_pipelines", "pipeline_source")

    def __init__(self, *, pipeline_source: str, allow_fork_pipelines: bool) -> None:
        self.pipeline_source = pipeline_source
        self.allow_fork_pipelines = allow_fork_pipelines


class CheckoutSettings(Record):
    """`[checkout]`: the time all fetches of an eval job's checkouts may take."""

    __slots__ = ("timeout_seconds",)

    def __init__(self, *, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
