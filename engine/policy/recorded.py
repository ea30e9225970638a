"""The effective policy as JSON, as a transcript records it, and read back with the
same checks as a policy file."""

from __future__ import annotations

from engine.core.diagnostics import UsageError
from engine.policy.layering import Policy
from engine.policy.schema import SCHEMA
from engine.policy.values import check_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def policy_to_json(policy: Policy) -> dict[str, Any]:
    """The effective values as JSON (tuples become lists), with the files they came from."""
    def plain(value: Any) -> Any:
        return [plain(v) for v in value] if isinstance(value, tuple) else value

    return {
        "files": list(policy.files),
        "values": {section: {key: plain(value) for key, value in keys.items()}
                   for section, keys in policy.values.items()},
    }


def policy_from_json(data: Any, where: str) -> Policy:
    """Inverse of `policy_to_json`, checked like a policy file: a key this engine does not
    know or a wrong type is a UsageError; a key the data lacks keeps its default."""
    if not isinstance(data, dict) or not isinstance(data.get("values"), dict):
        raise UsageError("the recorded policy is not an object with \"values\"", where)
    values: dict[str, dict[str, Any]] = {}
    given: dict[str, Any] = data["values"]
    for section in given:
        if section not in SCHEMA or not isinstance(given[section], dict):
            raise UsageError(f"the recorded policy has an unknown section [{section}]", where)
    for section, keys in SCHEMA.items():
        table: dict[str, Any] = given.get(section, {})
        unknown = sorted(set(table) - set(keys))
        if unknown:
            raise UsageError(f"the recorded policy has an unknown key {section}.{unknown[0]}",
                             where)
        values[section] = {}
        for key, spec in keys.items():
            kind, default = spec.kind, spec.default
            name, value = f"{section}.{key}", table.get(key, default)
            if key not in table:
                values[section][key] = default
            elif kind == "list of glob patterns":
                if not isinstance(value, list):
                    raise UsageError(f"{name} must be a list of lists of glob patterns", where)
                values[section][key] = tuple(
                    layer for v in value for layer in check_value(where, name, kind, v)
                )
            else:
                values[section][key] = check_value(where, name, kind, value)
    files = data.get("files", [])
    return Policy(values, tuple(str(f) for f in files) if isinstance(files, list) else ())
