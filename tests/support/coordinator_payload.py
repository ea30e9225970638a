"""The real coordinator's checks of a `POST /api/v1/jobs/{id}/triggers` body.

Written from the coordinator's behaviour, independently of the engine's own validation,
so that a test fails where the real coordinator would refuse a payload. Only the parts
an eval job's plain (`runnerlib`) submission can reach are modelled: the body walk, the
JSON decoding, the non-eval authority rules, and the per-job field rules applied when a
ready node starts.
"""

from __future__ import annotations

import math
import re
from typing import Any

FORBIDDEN = ("org", "org_id", "organization")
_SECRET_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")
_CPU = re.compile(r"^(?:[0-9]+m|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|[0-9]+\.)$")
_MEMORY = re.compile(r"^[0-9]+(?:Ki|Mi|Gi|Ti|Pi|[KMGTP][Bb]?)?$")
_STRING_FIELDS = ("job_name", "condition", "source_type", "source_url", "source_ref",
                  "ci_source_type", "ci_source_url", "ci_source_ref", "container_image",
                  "job_command", "worker_class", "code_dir", "job_dir", "working_dir",
                  "run_as_user", "item_var", "job_file")
_INT_FIELDS = ("priority", "timeout")
_STRING_LIST_FIELDS = ("depends_on", "capabilities", "image_pull_secrets")


class Refused(Exception):
    """The coordinator's answer to a refused payload: a status and its JSON body."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


def check(payload: Any) -> list[dict[str, Any]]:
    """Every job the payload would create (from `jobs` or from `workflows`), or Refused."""
    if not isinstance(payload, dict):
        raise Refused(400, "body is not an object")
    where = _forbidden_key(payload)
    if where is not None:  # not a store error: the handler answers 500
        raise Refused(500, f"forbidden key at {where}")
    if "version" in payload:
        raise Refused(400, "unknown top-level version")
    if payload.get("type") != "trigger_job":
        raise Refused(400, "type must be trigger_job")
    trigger_type = payload.get("trigger_type", "")
    if not isinstance(trigger_type, str):
        raise Refused(400, "trigger_type must be a string")
    if trigger_type == "runnerlib_eval":
        raise Refused(400, "runnerlib_eval is only for the coordinator's own evaluator")
    operation_id = payload.get("operation_id", "")
    if not isinstance(operation_id, str):
        raise Refused(400, "operation_id must be a string")
    workflows = payload.get("workflows")
    jobs: list[Any] = []
    if workflows:
        if not isinstance(workflows, list):
            raise Refused(400, "workflows must be a list")
        for workflow in workflows:
            if not isinstance(workflow, dict):
                raise Refused(400, "a workflow must be an object")
            if not isinstance(workflow.get("name", ""), str):
                raise Refused(400, "workflow name must be a string")
            if not isinstance(workflow.get("vars") or {}, dict):
                raise Refused(400, "workflow vars must be an object")
            batch = workflow.get("jobs") or []
            if not isinstance(batch, list):
                raise Refused(400, "workflow jobs must be a list")
            jobs += batch
    else:
        batch = payload.get("jobs") or []
        if not isinstance(batch, list):
            raise Refused(400, "jobs must be a list")
        workflow = payload.get("workflow")
        if workflow is not None and not isinstance(workflow, dict):
            raise Refused(400, "workflow must be an object")
        jobs = batch
    for job in jobs:
        _check_job(job)
    return jobs


def _forbidden_key(value: Any, path: str = "$") -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in FORBIDDEN:
                return f"{path}.{key}"
            found = _forbidden_key(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _forbidden_key(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _check_job(job: Any) -> None:
    if not isinstance(job, dict):
        raise Refused(400, "a job must be an object")
    for key in _STRING_FIELDS:
        if key in job and job[key] is not None and not isinstance(job[key], str):
            raise Refused(400, f"{key} must be a string")
    for key in _INT_FIELDS:
        value = job.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise Refused(400, f"{key} must be an integer")
    for key in _STRING_LIST_FIELDS:
        value = job.get(key)
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(v, str) for v in value)):
            raise Refused(400, f"{key} must be a list of strings")
    env = job.get("env")
    if env is not None and (not isinstance(env, dict)
                            or not all(isinstance(v, str) for v in env.values())):
        raise Refused(400, "env must map strings to strings")
    if job.get("ci_origin") or job.get("execution_profile"):
        raise Refused(400, "a plain submission may not set ci_origin or execution_profile")
    if job.get("job_file"):
        raise Refused(400, "job_file cannot be resolved without a workspace")
    if job.get("for_each") is not None and not isinstance(job["for_each"], list):
        raise Refused(400, "for_each must be a list")
    _check_characteristics(job.get("characteristics"))
    _check_resources(job.get("resources"))
    _check_pull_secrets(job.get("image_pull_secrets"))


def _check_characteristics(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise Refused(400, "characteristics must be an object")
    for key, item in value.items():
        if not key:
            raise Refused(400, "empty characteristics key")
        # JSON numbers decode as float64, which the parser rejects.
        if not isinstance(item, (str, bool)):
            raise Refused(400, f"unsupported value type for characteristics {key}")


def _check_resources(value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise Refused(400, "resources must be an object")
    shape = {"cpu": ("request", "limit"), "memory": ("limit",)}
    for group, entry in value.items():
        if group not in shape or not isinstance(entry, dict):
            raise Refused(400, f"bad resources key {group}")
        for key, quantity in entry.items():
            if key not in shape[group]:
                raise Refused(400, f"bad resources key {group}.{key}")
            if not _quantity_ok(group, quantity):
                raise Refused(400, f"bad quantity {group}.{key}")


def _quantity_ok(group: str, quantity: Any) -> bool:
    if isinstance(quantity, bool):
        return False
    if isinstance(quantity, (int, float)):
        return math.isfinite(quantity) and quantity >= 0 and (
            group == "cpu" or float(quantity).is_integer())
    if not isinstance(quantity, str):
        return False
    return bool((_CPU if group == "cpu" else _MEMORY).match(quantity))


def _check_pull_secrets(value: Any) -> None:
    if value is None:
        return
    seen: set[str] = set()
    for name in value:
        if not name or len(name) > 253 or not _SECRET_NAME.match(name) or name in seen:
            raise Refused(400, f"bad image pull secret {name!r}")
        seen.add(name)
