"""The coordinator's own rules for the fields of a triggered job.

A job the coordinator would refuse (a 400 that rolls back the whole submission, or a
node that fails later when it starts) is refused here, at the `trigger_job` call, with
the rule in words. Fields it silently replaces get a warning. See docs/eval-job.md.
"""

from __future__ import annotations

import math
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from engine.core.jobs import Job

# Keys the coordinator refuses anywhere in a payload (an internal error, the whole
# submission lost).
FORBIDDEN_KEYS = ("org", "org_id", "organization")
# Fields the coordinator overwrites with the workflow's values whatever a job says.
REPLACED_FIELDS = ("worker_class", "ci_source_url", "ci_source_ref")

_RFC1123 = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\Z")
_CPU_MILLI = re.compile(r"[0-9]+m\Z")
_CPU_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_MEMORY = re.compile(r"[0-9]+(?:Ki|Mi|Gi|Ti|Pi|[KMGTP][Bb]?)?\Z")
_RESOURCE_KEYS = {"cpu": ("request", "limit"), "memory": ("limit",)}
MAX_PULL_SECRET = 253
# The coordinator reads JSON numbers as doubles and prints them with Go's %v, which
# switches to exponent form from a million on (1000000 becomes "1e+06").
_PLAIN_BELOW = 10**6


class RuleError(ValueError):
    """A field breaks a rule of the coordinator; the message says which."""


def check_job_file(value: Any) -> None:
    """`job_file` is never accepted: the coordinator's API has no workspace to read it."""
    raise RuleError("job_file is refused: the coordinator cannot read files from the "
                    "submission (its API answers 400); give the command as job_command")


def check_characteristics(value: dict[str, Any]) -> None:
    """Keys non-empty; values strings or bools (a JSON number is refused upstream)."""
    for key, item in value.items():
        if not key:
            raise RuleError("characteristics keys must not be empty")
        if not isinstance(item, (str, bool)):
            kind = "None" if item is None else type(item).__name__
            raise RuleError(
                f"characteristics[{key!r}] must be a string or a bool, got {kind} (the "
                f"coordinator refuses numbers here; write {json_hint(item)})")


def json_hint(value: Any) -> str:
    """How to pass a value as a string instead."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'"{value}"'
    return "a string"


def check_resources(value: dict[str, Any]) -> None:
    """The nested shape `{"cpu": {"request", "limit"}, "memory": {"limit"}}` with
    quantities the coordinator parses."""
    for group, entry in value.items():
        allowed = _RESOURCE_KEYS.get(group)
        if allowed is None:
            raise RuleError(f"resources key {group!r} is not one of cpu, memory (the shape "
                            'is {"cpu": {"request": Q, "limit": Q}, "memory": {"limit": Q}})')
        if not isinstance(entry, dict):
            raise RuleError(f'resources["{group}"] must be a dict with '
                            f"{' and '.join(repr(k) for k in allowed)}, got "
                            f"{type(entry).__name__} (the coordinator refuses the flat form)")
        for key, quantity in entry.items():
            if key not in allowed:
                extra = " (the coordinator takes no memory request)" if (
                    group, key) == ("memory", "request") else ""
                raise RuleError(f'resources["{group}"] key {key!r} is not one of '
                                f"{', '.join(allowed)}{extra}")
            check_quantity(group, key, quantity)


def check_quantity(group: str, key: str, quantity: Any) -> None:
    """A CPU amount (cores, or `<int>m`) or a memory amount (bytes with a suffix)."""
    where = f'resources["{group}"]["{key}"]'
    if isinstance(quantity, bool) or not isinstance(quantity, (str, int, float)):
        raise RuleError(f"{where} must be a string or a number")
    if isinstance(quantity, float) and not math.isfinite(quantity):
        raise RuleError(f"{where} must be a finite number")
    if isinstance(quantity, int) and not -(2**63) <= quantity < 2**63:
        raise RuleError(f"{where} is outside the 64-bit integer range the coordinator "
                        "decodes")
    if isinstance(quantity, (int, float)) and quantity < 0:
        raise RuleError(f"{where} must not be negative")
    if group == "cpu":
        if isinstance(quantity, str) and not (_CPU_MILLI.match(quantity)
                                              or _CPU_DECIMAL.match(quantity)):
            raise RuleError(f"{where} {quantity!r} is not a CPU quantity: cores (2, 1.5) or "
                            "whole millicores (500m)")
        return
    if isinstance(quantity, float) and not quantity.is_integer():
        raise RuleError(f"{where} {quantity!r} is not a whole number of bytes")
    if isinstance(quantity, str) and not _MEMORY.match(quantity):
        raise RuleError(f"{where} {quantity!r} is not a memory quantity: a whole number "
                        "with Ki, Mi, Gi, Ti or Pi, or K, M, G, T, P (optionally followed by "
                        "B), e.g. 4Gi or 512Mi")


def check_image_pull_secrets(value: list[str]) -> None:
    """Kubernetes secret names: RFC 1123, at most 253 characters, no duplicates."""
    seen: set[str] = set()
    for name in value:
        if not name:
            raise RuleError("image_pull_secrets names must not be empty")
        if len(name) > MAX_PULL_SECRET:
            raise RuleError(f"image_pull_secrets name is {len(name)} characters long; the "
                            f"limit is {MAX_PULL_SECRET}")
        if not _RFC1123.match(name):
            raise RuleError(f"image_pull_secrets name {name!r} is not a valid secret name "
                            "(lower-case letters, digits, '-' and '.', starting and ending "
                            "with a letter or digit)")
        if name in seen:
            raise RuleError(f"image_pull_secrets lists {name!r} twice")
        seen.add(name)


def check_for_each(value: Any) -> None:
    """Items the coordinator turns into the same text: strings, bools, and whole numbers
    it prints with the same digits."""
    if not isinstance(value, list):
        raise RuleError(f"for_each must be a list, got {type(value).__name__}")
    for item in value:
        if isinstance(item, (str, bool)):
            continue
        if isinstance(item, int):
            if abs(item) < _PLAIN_BELOW:
                continue
            raise RuleError(f"for_each item {item} would reach the job as "
                            f"{_go_format(item)!r} (the coordinator prints numbers in "
                            f'exponent form); pass it as a string: "{item}"')
        kind = "None" if item is None else type(item).__name__
        shown = repr(item) if isinstance(item, float) else kind
        raise RuleError(f"for_each item {shown} is refused: the coordinator passes items "
                        "to the job as text; pass strings (json.encode(x) for a structure)")


def _go_format(number: int) -> str:
    """Go's %v of a float64 holding `number`: plain below a million, else the shortest
    exponent form."""
    if abs(number) < _PLAIN_BELOW:
        return str(number)
    digits = repr(float(abs(number))).split("e")[0].replace(".", "").rstrip("0")
    exponent = len(str(abs(number))) - 1
    sign = "-" if number < 0 else ""
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e+{exponent:02d}"


def forbidden_key_path(value: Any, path: str = "") -> str | None:
    """The first place a forbidden key appears in a nested value, else None."""
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}[{key!r}]" if path else repr(key)
            if key in FORBIDDEN_KEYS:
                return here
            found = forbidden_key_path(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = forbidden_key_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def replaced_field_warnings(job: Job) -> list[str]:
    """A line per field the coordinator will overwrite."""
    return [
        f'job "{job.name}": {name} is replaced by the coordinator with the workflow\'s '
        f"value; this setting has no effect"
        for name in REPLACED_FIELDS
        if job.fields.get(name) is not None
    ]


def missing_command_warning(job: Job) -> str | None:
    """Children do not inherit the eval job's command: a job without one runs nothing."""
    if job.fields.get("job_command"):
        return None
    return (f'job "{job.name}" has no job_command: the coordinator does not inherit one, '
            "so the job would run the image's default command")
