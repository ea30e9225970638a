"""Operator policy: what pipelines may do, read from TOML files and layered so that
a later file can only tighten an earlier one.

`schema` holds every table and key as data (kind, default, ceiling, how it layers);
`values` checks one value against its kind; `files` reads the files; `layering` combines
them into a `Policy`, whose typed sections (`sections`, and the core's `Limits` and
`JobRules`) are what callers read; `recorded` and `show` write it out as JSON and TOML.

Imports `engine.core` and `engine.common` only: a policy knows the job rules and the
builtin table, never how a run uses them.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.policy.files import POLICY_ENV, load_policy, policy_files
    from engine.policy.layering import Policy, combine, default_policy, tighten
    from engine.policy.recorded import policy_from_json, policy_to_json
    from engine.policy.schema import (
        FORK_SECTIONS,
        GIT_MISSING_HISTORY,
        MAX_CALLSTACK_CEILING,
        MAXIMA,
        PIPELINE_SOURCES,
        SCHEMA,
        Key,
    )
    from engine.policy.sections import (
        BuiltinSettings,
        CheckoutSettings,
        GitSettings,
        LoadSettings,
        TrustSettings,
    )
    from engine.policy.show import render_toml
    from engine.policy.values import check_value, with_article

# Each public name and its module, imported on first use: a run that only needs a
# `Policy` does not pay for reading files, JSON or TOML output.
_MODULES = {
    "files": ("POLICY_ENV", "load_policy", "policy_files"),
    "layering": ("Policy", "combine", "default_policy", "tighten"),
    "recorded": ("policy_from_json", "policy_to_json"),
    "schema": ("FORK_SECTIONS", "GIT_MISSING_HISTORY", "MAX_CALLSTACK_CEILING", "MAXIMA",
               "PIPELINE_SOURCES", "SCHEMA", "Key"),
    "sections": ("BuiltinSettings", "CheckoutSettings", "GitSettings", "LoadSettings",
                 "TrustSettings"),
    "show": ("render_toml",),
    "values": ("check_value", "with_article"),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    import importlib

    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "FORK_SECTIONS",
    "GIT_MISSING_HISTORY",
    "MAXIMA",
    "MAX_CALLSTACK_CEILING",
    "PIPELINE_SOURCES",
    "POLICY_ENV",
    "SCHEMA",
    "BuiltinSettings",
    "CheckoutSettings",
    "GitSettings",
    "Key",
    "LoadSettings",
    "Policy",
    "TrustSettings",
    "check_value",
    "combine",
    "default_policy",
    "load_policy",
    "policy_files",
    "policy_from_json",
    "policy_to_json",
    "render_toml",
    "tighten",
    "with_article",
]
