"""The job model: which fields a trigger may carry, their kinds, and their order on disk."""

from __future__ import annotations

from engine.common.record import Record
from engine.core.diagnostics import Frame, Location

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

CONDITIONS = ("all_success", "any_success", "any_failed", "always")
SOURCE_TYPES = ("git", "copy", "none")

# Field name -> kind. The order is the order of keys in the triggers file.
# Kinds: "str", "int", "timeout" (int > 0), "source_type", "str_list", "list", "env_name", "map",
# "for_each" (see engine.core.coordinator_rules).
OPTIONAL_FIELDS: dict[str, str] = {
    "source_type": "source_type",
    "source_url": "str",
    "source_ref": "str",
    "ci_source_type": "source_type",
    "ci_source_url": "str",
    "ci_source_ref": "str",
    "container_image": "str",
    "job_command": "str",
    "priority": "int",
    "timeout": "timeout",
    "capabilities": "str_list",
    "image_pull_secrets": "str_list",
    "for_each": "for_each",
    "item_var": "env_name",
    "worker_class": "str",
    "code_dir": "str",
    "job_dir": "str",
    "working_dir": "str",
    "run_as_user": "str",
    "job_file": "str",
    "characteristics": "map",
    "resources": "map",
}

# Keys every job carries on disk, in this order, before the optional fields.
REQUIRED_KEYS = ("job_name", "depends_on", "condition", "env")

# Fields only the platform may set; a pipeline that sets them is refused.
AUTHORITY_FIELDS = ("ci_origin", "execution_profile")

# Keys that make the coordinator refuse the whole payload, wherever they appear.
FORBIDDEN_KEYS = ("org", "org_id", "organization")

KEY_ORDER = (*REQUIRED_KEYS, *OPTIONAL_FIELDS)
_RANK = {key: rank for rank, key in enumerate(KEY_ORDER)}


class Job(Record):
    """One triggered job plus where the pipeline created it."""

    __slots__ = ("_text", "fields", "location", "name", "stack", "workflow")

    def __init__(self, name: str, fields: dict[str, Any], location: Location,
                 stack: tuple[Frame, ...] = (), workflow: str | None = None) -> None:
        self.name = name
        self.fields = fields
        self.location = location
        self.stack = stack
        # The named workflow the job belongs to (None: the default one).
        self.workflow = workflow
        self._text: tuple[Callable[[dict[str, Any]], str], str] | None = None

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def depends_on(self) -> list[str]:
        """Names this job waits for."""
        deps = self.fields.get("depends_on") or []
        return [d for d in deps if isinstance(d, str)]

    def to_document(self) -> dict[str, Any]:
        """The job as written to the triggers file: fixed key order, unset fields omitted."""
        fields = self.fields
        out: dict[str, Any] = {}
        # A job holds a handful of the known keys: ordering those is cheaper than
        # looking up every known key.
        for key in sorted([k for k in fields if k in _RANK], key=_RANK.__getitem__):
            value = fields[key]
            if value is not None or key in REQUIRED_KEYS:
                out[key] = _canonical(value)
        return out

    def rendered(self, render: Callable[[dict[str, Any]], str],
                 document: dict[str, Any] | None = None) -> str:
        """`render(self.to_document())`, made once for each `render` and kept: the
        writer's text of the job, which the parent makes while the sandbox still runs.
        `document`, when given, is that document, made already."""
        if self._text is None or self._text[0] is not render:
            made = document if document is not None else self.to_document()
            self._text = (render, render(made))
        return self._text[1]


def _canonical(value: Any) -> Any:
    """Maps get sorted keys so that equal inputs always give equal bytes."""
    kind = type(value)
    if kind is str or kind is int or value is None:  # most values: nothing to sort
        return value
    if isinstance(value, dict):
        return {k: _canonical(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def count_jobs(count: int, adjective: str = "") -> str:
    """`1 job`, `2 new jobs`: a number of jobs in words for messages."""
    noun = "job" if count == 1 else "jobs"
    return f"{count} {adjective} {noun}" if adjective else f"{count} {noun}"
