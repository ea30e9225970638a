"""The parent's answers to the sandbox: git, the coordinator and pipeline output.

Each distinct question is answered once per run and the answer reused, so the
evaluation sees one consistent snapshot.
"""

from __future__ import annotations

import json
import sys

from engine.capabilities.answers import Answers
from engine.capabilities.base import CapabilityError, GitSource, JobState, SourceReader
from engine.core.builtin_table import calls_by_builtin

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO


class PrintSink:
    """Pipeline output to a stream, in order, cut off past a byte budget.

    `keep`, when given, also receives every line shown (for a transcript).
    """

    def __init__(self, stream: TextIO | None, limit: int,
                 keep: list[str] | None = None) -> None:
        # Never redacted (see engine.common.secret): the pipeline never held the token,
        # and redacting its output would let it test guesses of it.
        self.stream = stream
        self.limit = limit
        self.used = 0
        self.truncated = False
        self.keep = keep

    def fit(self, text: str) -> str:
        """`text` cut to what is left of the budget, which it then uses: `fail()` messages
        and error messages share the budget with `print`."""
        encoded = text.encode("utf-8", "replace")
        left = max(self.limit - self.used, 0)
        if len(encoded) <= left:
            self.used += len(encoded)
            return text
        self.used = self.limit
        self.truncated = True
        kept = encoded[:left].decode("utf-8", "ignore")
        return f"{kept}[message truncated: print limit of {self.limit} bytes reached]"

    def write(self, text: str) -> None:
        """Show one line unless the budget is spent."""
        if self.truncated:
            return
        from engine.common.shown import escape_controls

        text = escape_controls(text)
        size = len(text.encode("utf-8")) + 1
        if self.used + size > self.limit:
            self.truncated = True
            fits = text.encode("utf-8")[: max(self.limit - self.used - 1, 0)]
            shown = fits.decode("utf-8", "ignore")
            if shown:
                self._emit(shown)
            self._emit(f"[print output truncated: limit of {self.limit} bytes reached]")
            return
        self.used += size
        self._emit(text)

    def _emit(self, text: str) -> None:
        if self.keep is not None:
            self.keep.append(text)
        stream = self.stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()


def question_key(capability: str, method: str, args: list[Any]) -> str:
    """The cache key of one question: equal questions, equal keys."""
    return json.dumps([capability, method, args], sort_keys=True)


class Unrecorded:
    """The backend of a replay: any question reaching it was not asked by the recorded
    run, so it has no answer (the evaluation drifted)."""

    def __init__(self, capability: str) -> None:
        self.capability = capability
        self.warnings: list[str] = []  # a git source's warnings: the recorded ones are shown

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def refuse(*args: Any) -> Any:
            shown = ", ".join(json.dumps(arg, ensure_ascii=False) for arg in args)
            raise CapabilityError(
                f"the transcript holds no answer to {self.capability}.{method}({shown}): "
                "the recorded run never asked this"
            )

        return refuse


class HostServices:
    """Answers capability calls from the sandbox with the given backends.

    Every answer (an error too) is kept in `answers`, in the order first asked: that is
    what a transcript records (`recorded`) and what a replay seeds (`seed`). Calls that
    only the `disabled` builtins make are refused (the child enforces the policy too,
    but is never trusted).
    """

    def __init__(self, git: GitSource, job_state: JobState, output: PrintSink,
                 sources: SourceReader | None = None, disabled: tuple[str, ...] = ()) -> None:
        # Which calls each builtin makes: a call no enabled builtin makes is refused.
        self._builtin_calls = calls_by_builtin()
        made = self._builtin_calls.items()
        enabled = {call for name, calls in made if name not in disabled for call in calls}
        self.refused = {call for _, calls in made for call in calls} - enabled
        self.backends: dict[str, Any] = {"git": git, "job_state": job_state}
        if sources is not None:
            self.backends["source"] = sources
        self.output = output
        self.answers: Answers[str, Any] = Answers()
        self.calls = 0

    def answer(self, capability: str, method: str, args: list[Any]) -> Any:
        """Answer one call, from the cache when the same question was asked before."""
        if (capability, method) in self.refused:
            names = sorted(name for name, calls in self._builtin_calls.items()
                           if (capability, method) in calls)
            verb = "is" if len(names) == 1 else "are"
            raise CapabilityError(f"{', '.join(names)} {verb} disabled by the platform's policy")

        def ask_backend() -> Any:
            self.calls += 1
            return getattr(self.backends[capability], method)(*args)

        return self.answers.ask(question_key(capability, method, args), ask_backend)

    def show(self, text: str) -> None:
        """Forward one line of pipeline output."""
        self.output.write(text)

    def seed(self, capability: str, method: str, args: list[Any], answer: Any) -> None:
        """Answer a question in advance (a CapabilityError is a recorded failure)."""
        self.answers.seed(question_key(capability, method, args), answer)

    def recorded(self) -> list[tuple[str, str, list[Any], Any]]:
        """Every question answered so far, in order, with its answer or CapabilityError."""
        out: list[tuple[str, str, list[Any], Any]] = []
        for key, answer in self.answers.items():
            capability, method, args = json.loads(key)
            out.append((capability, method, args, answer))
        return out

    def loaded_sources(self) -> dict[str, str]:
        """The pipeline files `load()` read, by display name, in the order first read."""
        return {
            answer["name"]: answer["text"]
            for capability, _, _, answer in self.recorded()
            if capability == "source" and isinstance(answer, dict)
        }
