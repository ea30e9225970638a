"""What the job-state builtins and the sandbox's proxy ask, argument by argument."""

from __future__ import annotations

from typing import Any

import pytest

from engine.capabilities.base import CapabilityError
from engine.sandbox.proxies import RemoteJobState
from pipeline_builtins.coordinator import coordinator_builtins
from pipeline_builtins.errors import BuiltinError


class RecordingState:
    """A JobState that records each question and answers from a table."""

    def __init__(self, fail: str | None = None) -> None:
        self.asked: list[tuple[str, tuple[str, ...]]] = []
        self.fail = fail

    def is_job_running(self, job_name: str, *scope: str) -> bool:
        self.asked.append(("is_job_running", (job_name, *scope)))
        if self.fail:
            raise CapabilityError(self.fail)
        return job_name == "deploy"

    def get_job_result(self, job_name: str, *scope: str) -> dict[str, Any] | None:
        self.asked.append(("get_job_result", (job_name, *scope)))
        if self.fail:
            raise CapabilityError(self.fail)
        return {"job_id": "j-1"} if job_name == "deploy" else None


class RecordingChannel:
    """The child's channel to the parent, answering every call with ``answer``."""

    def __init__(self, answer: Any) -> None:
        self.calls: list[tuple[str, str, tuple[Any, ...]]] = []
        self.answer = answer

    def call(self, capability: str, method: str, *args: Any) -> Any:
        self.calls.append((capability, method, args))
        return self.answer


def test_scope_is_passed_only_when_given() -> None:
    state = RecordingState()
    builtins = coordinator_builtins(state)

    assert builtins["is_job_running"]("deploy") is True
    assert builtins["is_job_running"]("deploy", scope="workflow") is True
    assert builtins["get_job_result"]("deploy", "all") == {"job_id": "j-1"}
    assert builtins["get_job_result"]("lint", scope=None) is None
    assert state.asked == [
        ("is_job_running", ("deploy",)),
        ("is_job_running", ("deploy", "workflow")),
        ("get_job_result", ("deploy", "all")),
        ("get_job_result", ("lint",)),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1,), "is_job_running: job_name must be a string"),
        (("deploy", "global"), 'scope must be "workflow", "project" or "all", not "global"'),
        (("deploy", ["all"]), 'scope must be "workflow", "project" or "all", not a list'),
        (("deploy", "Project"), 'not "Project"'),
    ],
)
def test_bad_arguments_are_refused_before_asking(args: tuple[Any, ...], message: str) -> None:
    state = RecordingState()
    with pytest.raises(BuiltinError, match=message.replace("(", r"\(")):
        coordinator_builtins(state)["is_job_running"](*args)
    assert state.asked == []


def test_a_capability_failure_names_the_builtin() -> None:
    builtins = coordinator_builtins(RecordingState(fail="coordinator at x:443: HTTP 503"))
    with pytest.raises(BuiltinError, match=r"^get_job_result: coordinator at x:443: HTTP 503$"):
        builtins["get_job_result"]("deploy", scope="project")


def test_the_proxy_sends_the_scope_only_when_given() -> None:
    channel = RecordingChannel({"job_id": "j-1"})
    state = RemoteJobState(channel)  # type: ignore[arg-type]

    assert state.get_job_result("deploy") == {"job_id": "j-1"}
    assert state.get_job_result("deploy", "project") == {"job_id": "j-1"}
    assert state.is_job_running("deploy", "all") is True
    assert channel.calls == [
        ("job_state", "get_job_result", ("deploy",)),
        ("job_state", "get_job_result", ("deploy", "project")),
        ("job_state", "is_job_running", ("deploy", "all")),
    ]
