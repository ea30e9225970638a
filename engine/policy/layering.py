"""The effective policy: checked files layered over the defaults, the stricter value winning.

Several files combine setting by setting, each taking the stricter value, so a file
added later (a project's after an organisation's) can tighten but never loosen. A key
no file sets keeps its built-in default.
"""

from __future__ import annotations

from engine.common.record import Record
from engine.core.limits import Limits
from engine.core.validate import RESERVED_ENV_PREFIXES, JobRules
from engine.policy.schema import SCHEMA, STRICTER, union
from engine.policy.sections import (
    BuiltinSettings,
    CheckoutSettings,
    GitSettings,
    LoadSettings,
    TrustSettings,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    # A checked file: section -> key -> value, and `fork_pr` -> section -> key -> value.
    Settings = dict[str, dict[str, Any]]


class Policy(Record):
    """The effective policy of one run: a typed attribute per table (`limits`, `builtins`,
    `jobs`, `load`, `git`, `trust`, `checkout`), the raw `values` they are read from, and
    the files it was layered from."""

    __slots__ = ("builtins", "checkout", "files", "git", "jobs", "layers", "limits", "load",
                 "trust", "values")

    def __init__(self, values: dict[str, dict[str, Any]], files: tuple[str, ...],
                 layers: tuple[tuple[str, Settings], ...] = ()) -> None:
        self.values = values
        self.files = files
        # The checked files, kept so that a fork's stricter layer can be added later.
        self.layers = layers
        self.limits = Limits(**values["limits"])
        self.builtins = BuiltinSettings(**values["builtins"])
        jobs = values["jobs"]
        # The platform's own prefixes stay reserved whatever a file says.
        self.jobs = JobRules(**{**jobs, "reserved_env_prefixes": union(
            RESERVED_ENV_PREFIXES, jobs["reserved_env_prefixes"])})
        self.load = LoadSettings(**values["load"])
        self.git = GitSettings(**values["git"])
        self.trust = TrustSettings(**values["trust"])
        self.checkout = CheckoutSettings(**values["checkout"])

    def for_fork(self) -> Policy:
        """This policy with every file's `[fork_pr]` table layered on top (stricter
        wins), for a pull request from a fork; itself when no file has one."""
        extra = [(f"{path} [fork_pr]", settings["fork_pr"]) for path, settings in self.layers
                 if settings.get("fork_pr")]
        if not extra:
            return self
        forked = combine([*self.layers, *extra])
        # The files it came from: limits given to the run are a layer, not a file.
        return Policy(forked.values, (*self.files, *(name for name, _ in extra)),
                      forked.layers)

    def with_limits(self, limits: Limits) -> Policy:
        """This policy with `[limits]` replaced by `limits` (an embedding caller's or a
        test's choice), so that what a run records is what it ran under."""
        from engine.policy.values import check_value

        table = {name: check_value("RunOptions.limits", f"limits.{name}", key.kind,
                                   getattr(limits, name))
                 for name, key in SCHEMA["limits"].items()}
        # The files' own [limits] give way to the given ones, also in the layers a
        # fork's policy is built from: a [fork_pr] table still tightens them.
        layers = tuple((path, {k: v for k, v in settings.items() if k != "limits"})
                       for path, settings in self.layers)
        return Policy({**self.values, "limits": table}, self.files,
                      (*layers, ("RunOptions.limits", {"limits": table})))


def combine(parsed: list[tuple[str, Settings]]) -> Policy:
    """Layer already-checked files over the defaults."""
    values: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        values[section] = {}
        for name, key in keys.items():
            given = [settings[section][name] for _, settings in parsed
                     if name in settings.get(section, {})]
            if not given:
                values[section][name] = key.default
                continue
            value = given[0]
            for other in given[1:]:
                value = STRICTER[key.kind](value, other)
            values[section][name] = value
    return Policy(values, tuple(path for path, _ in parsed), tuple(parsed))


def tighten(operator: Policy, recorded: Policy) -> Policy:
    """`recorded` (a transcript's policy) layered over the operator's: every value is the
    stricter of the two, so a recorded policy can tighten the operator's, never loosen it."""
    values = {
        section: {name: STRICTER[key.kind](operator.values[section][name],
                                           recorded.values[section][name])
                  for name, key in keys.items()}
        for section, keys in SCHEMA.items()
    }
    return Policy(values, operator.files)


def default_policy() -> Policy:
    """The built-in defaults, as when no policy file is given."""
    return combine([])
