"""How a run goes: write or only show, transport permissions, the operator's policy and
the limits in force."""

from __future__ import annotations

from engine.common.record import Record
from engine.policy import Policy, default_policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.core.limits import Limits


class RunOptions(Record):
    """How to run: write or only show, transport permissions, the operator's policy.

    `limits`, when given, replaces the policy's limits (for embedding and tests); `policy`
    is then the effective one, so that a transcript records the limits the run had.
    """

    __slots__ = ("allow_insecure_transport", "changed", "dry_run", "limits", "policy")

    def __init__(self, *, dry_run: bool = False, allow_insecure_transport: bool = False,
                 policy: Policy | None = None, limits: Limits | None = None,
                 changed: list[str] | None = None) -> None:
        self.dry_run = dry_run
        # Changed files stated on the command line (`--changed`), in place of git's.
        self.changed = changed
        self.allow_insecure_transport = allow_insecure_transport
        policy = policy or default_policy()
        self.policy = policy.with_limits(limits) if limits is not None else policy
        # The policy's limits, or the given ones with their `kill_grace_seconds`.
        self.limits = limits or self.policy.limits
