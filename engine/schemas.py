"""JSON Schemas of the files people write, generated from the tables that check them:
the operator policy (engine.policy.schema.SCHEMA), a pipeline test case
(engine.pipeline_tests.cases), and the triggers document (engine.core.jobs and
engine.core.validate).

`python -m engine.schemas --write DIR` writes them (`just docs`); a test fails when the
committed ones are stale, and checks that the bundled examples validate against them.
Editors use them for completion and checking (docs/editors.md).
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://reactorcide.example/schemas/"
FILES = ("policy.schema.json", "test-case.schema.json", "triggers.schema.json")

_STRINGS: dict[str, Any] = {"type": "array", "items": {"type": "string"}}


def _policy_kind(kind: str, key: str) -> dict[str, Any]:
    from engine.core.builtin_table import DISABLABLE
    from engine.core.jobs import CONDITIONS
    from engine.policy import GIT_MISSING_HISTORY, MAX_CALLSTACK_CEILING, MAXIMA

    ceiling = MAXIMA.get(key)
    numbers: dict[str, dict[str, Any]] = {
        "positive number": {"type": "number", "exclusiveMinimum": 0},
        "positive integer": {"type": "integer", "minimum": 1},
        "callstack": {"type": "integer", "minimum": 1, "maximum": MAX_CALLSTACK_CEILING},
        "non-negative integer": {"type": "integer", "minimum": 0},
        "integer": {"type": "integer"},
    }
    if kind in numbers:
        out = dict(numbers[kind])
        if ceiling is not None:
            out["maximum"] = int(ceiling)
        return out
    if kind == "boolean":
        return {"type": "boolean"}
    if kind.startswith("one of: "):
        choices = kind.removeprefix("one of: ").split(", ")
        assert kind != "one of: error, all_changed" or choices == list(GIT_MISSING_HISTORY)
        return {"enum": choices}
    if kind == "list of builtin names":
        return {"type": "array", "items": {"enum": list(DISABLABLE)}}
    if kind == "list of conditions":
        return {"type": "array", "items": {"enum": list(CONDITIONS)}}
    if kind == "list of glob patterns":
        # One list, or layers of lists (as `policy show` writes them).
        return {"anyOf": [_STRINGS, {"type": "array", "items": _STRINGS}]}
    if kind == "list of strings":
        return dict(_STRINGS)
    raise LookupError(f"no schema for the policy kind {kind!r}")


def _default(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_default(v) for v in value]
    return value


def policy_schema() -> dict[str, Any]:
    """The operator policy file (TOML, read as this JSON shape)."""
    from engine.policy import FORK_SECTIONS, SCHEMA

    sections = {}
    for section, keys in SCHEMA.items():
        properties = {}
        for name, key in keys.items():
            properties[name] = {**_policy_kind(key.kind, f"{section}.{name}"),
                                "description": key.kind, "default": _default(key.default)}
        sections[section] = {"type": "object", "properties": properties,
                             "additionalProperties": False}

    sections["fork_pr"] = {
        "type": "object", "description": "stricter [limits], [builtins] and [jobs] for a "
        "pull request from a fork (docs/eval-job.md)",
        "properties": {name: sections[name] for name in FORK_SECTIONS},
        "additionalProperties": False}
    return {"$schema": DRAFT, "$id": BASE + FILES[0], "title": "Pipeline policy",
            "description": "An operator's policy file (docs/policy.md).",
            "type": "object", "properties": sections, "additionalProperties": False}


def _case_kind(kind: str) -> dict[str, Any]:
    return {
        "string": {"type": "string"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "list": {"type": "array"},
        "table": {"type": "object"},
        "list of strings": dict(_STRINGS),
        "table of strings": {"type": "object", "additionalProperties": {"type": "string"}},
    }[kind]


def _table(schema: dict[str, str], **overrides: dict[str, Any]) -> dict[str, Any]:
    properties = {key: overrides.get(key, _case_kind(kind)) for key, kind in schema.items()}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def case_schema() -> dict[str, Any]:
    """A pipeline test case (TOML, read as this JSON shape)."""
    from engine.capabilities.git.memory import STATUSES
    from engine.pipeline_tests import cases

    change = {"anyOf": [{"type": "string"}, {
        **_table(cases._CHANGE, status={"enum": list(STATUSES)}), "required": ["path"]}]}
    changes = {"type": "array", "items": change}
    git = _table(cases._GIT, changes=changes,
                 ranges={"type": "object", "additionalProperties": changes})
    coordinator = _table(cases._COORDINATOR, results={
        "type": "object", "additionalProperties": _table(cases._RESULT)})
    job = {"$ref": "triggers.schema.json#/$defs/job"}
    expect = _table(cases._EXPECT, jobs={"type": "array", "items": job})
    commit = {"type": "object",
              "additionalProperties": {"anyOf": [{"type": "string"}, {"const": False}]}}
    repository = _table(
        cases._REPOSITORY, commits={"type": "array", "minItems": 1, "items": commit},
        origin={"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
        tags={"type": "array", "items": {**_table(cases._TAG), "required": ["name"]}})
    top = _table(cases._TOP, git=git, repository=repository, coordinator=coordinator,
                 expect=expect)
    return {"$schema": DRAFT, "$id": BASE + FILES[1], "title": "Pipeline test case",
            "description": "A case of `python -m engine test` (docs/pipeline-tests.md).",
            **top, "required": ["pipeline"], "not": {"required": ["git", "repository"]}}


def _field_kind(kind: str) -> dict[str, Any]:
    from engine.core.jobs import SOURCE_TYPES
    from engine.core.validate import ENV_NAME_RE

    kinds: dict[str, dict[str, Any]] = {
        "str": {"type": "string"},
        "int": {"type": "integer"},
        "timeout": {"type": "integer", "exclusiveMinimum": 0},
        "source_type": {"enum": list(SOURCE_TYPES)},
        "str_list": dict(_STRINGS),
        "list": {"type": "array"},
        "env_name": {"type": "string", "pattern": _anchored(ENV_NAME_RE.pattern)},
        "map": {"type": "object", "additionalProperties": {
            "type": ["string", "number", "boolean", "object"]}},
        "for_each": {"type": "array", "items": {"type": ["string", "integer", "boolean"]}},
    }
    return kinds[kind]


def _anchored(pattern: str) -> str:
    """A Python `re.match` pattern as an ECMA-262 one (anchored at both ends)."""
    return "^" + pattern.removesuffix(r"\Z") + "$"


def triggers_schema() -> dict[str, Any]:
    """The triggers document the engine writes (and appends to)."""
    from engine.core.jobs import CONDITIONS, OPTIONAL_FIELDS, REQUIRED_KEYS
    from engine.core.validate import ENV_NAME_RE, JOB_NAME_RE, MAX_JOB_NAME

    name = {"type": "string", "pattern": _anchored(JOB_NAME_RE.pattern), "minLength": 1,
            "maxLength": MAX_JOB_NAME}
    job = {
        "type": "object",
        "properties": {
            "job_name": name,
            "depends_on": {"type": "array", "items": name, "uniqueItems": True},
            "condition": {"enum": list(CONDITIONS)},
            "env": {"type": "object",
                    "propertyNames": {"pattern": _anchored(ENV_NAME_RE.pattern),
                                      "not": {"pattern": "^(REACTORCIDE_|RC_WF_)"}},
                    "additionalProperties": {"type": "string"}},
            **{key: _field_kind(kind) for key, kind in OPTIONAL_FIELDS.items()},
        },
        "required": ["job_name"],
        "additionalProperties": False,
    }
    jobs = {"type": "array", "items": {**{"$ref": "#/$defs/job"},
                                       "required": list(REQUIRED_KEYS)}}
    return {"$schema": DRAFT, "$id": BASE + FILES[2], "title": "Triggers document",
            "description": "What `python -m engine` writes to the triggers file.",
            "type": "object",
            "properties": {"type": {"const": "trigger_job"},
                           "trigger_type": {"const": "runnerlib"},
                           "operation_id": {"type": "string"},
                           "jobs": jobs,
                           "workflows": {"type": "array", "items": {
                               "type": "object",
                               "properties": {"name": {"type": "string"},
                                              "vars": {"type": "object"},
                                              "jobs": jobs},
                               "required": ["jobs"], "additionalProperties": False}}},
            "required": ["type", "operation_id"],
            "oneOf": [{"required": ["jobs"]}, {"required": ["workflows"]}],
            "additionalProperties": False,
            "$defs": {"job": job}}


def render() -> dict[str, str]:
    """Every schema file's text, by file name."""
    made = (policy_schema(), case_schema(), triggers_schema())
    return {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
            for name, schema in zip(FILES, made, strict=True)}


def main(argv: list[str]) -> int:
    """`--write DIR`: write the schemas there; no argument: print them."""
    texts = render()
    if argv[:1] == ["--write"] and len(argv) == 2:
        os.makedirs(argv[1], exist_ok=True)
        for name, text in texts.items():
            with open(os.path.join(argv[1], name), "w", encoding="utf-8") as handle:
                handle.write(text)
        return 0
    if argv:
        sys.stderr.write("usage: python -m engine.schemas [--write DIR]\n")
        return 2
    sys.stdout.write("".join(texts.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
