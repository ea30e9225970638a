"""`policy show`: the effective policy written as a policy file."""

from __future__ import annotations

from engine.policy.layering import Policy
from engine.policy.schema import SCHEMA

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def render_toml(policy: Policy) -> str:
    """The effective policy as TOML, with where it came from."""
    lines = ["# effective pipeline policy"]
    if policy.files:
        lines.append("# layered from: " + ", ".join(policy.files))
    else:
        lines.append("# built-in defaults (no policy file given)")
    for section, keys in SCHEMA.items():
        lines.append("")
        lines.append(f"[{section}]")
        for name, key in keys.items():
            value = policy.values[section][name]
            if key.kind == "list of glob patterns":
                if len(value) > 1:
                    lines.append(f"# {name}: a value must match a pattern of every list")
                    lines.append(f"{name} = [{', '.join(_toml(list(v)) for v in value)}]")
                    continue
                value = value[0] if value else ()
            lines.append(f"{name} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)
