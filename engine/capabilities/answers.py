"""Each question answered once: the answer, or the `CapabilityError` it failed with, is
kept and given again without asking a second time.

A run sees one consistent snapshot this way (the checkout, the coordinator's job list
and the parent's answers do not change under it), and a failure costs one try: asking
again would only repeat the same error more slowly. Every cache of answers in the
engine is one of these: git commands (`git.live`), the coordinator's scopes and
listings (`coordinator.http`), the parent's answers to the sandbox and the child's
copy of them (`engine.sandbox`).
"""

from __future__ import annotations

from engine.capabilities.base import CapabilityError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterator
    from typing import Generic, TypeVar

    Key = TypeVar("Key", bound=Hashable)
    Value = TypeVar("Value")
else:
    # Generic for the type checker only: importing `typing` at run time would add to
    # every run's start-up, and nothing here needs it then.
    Key = Value = None

    class Generic:
        def __class_getitem__(cls, params: object) -> type:
            return cls


class Answers(Generic[Key, Value]):
    """Answers (or failures) by question, in the order first asked.

    Not locked: a caller shared between threads holds its own lock around `ask`.
    """

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[Key, Value | CapabilityError] = {}

    def ask(self, key: Key, answer: Callable[[], Value]) -> Value:
        """The answer to `key`: `answer()` the first time, the kept answer after.

        A CapabilityError from `answer()` is kept too, and raised on this and every
        later ask as a fresh error of the same class and message.
        """
        if key not in self._kept:
            try:
                self._kept[key] = answer()
            except CapabilityError as failure:
                self._kept[key] = failure
        kept = self._kept[key]
        if isinstance(kept, CapabilityError):
            raise type(kept)(*kept.args) from None
        return kept

    def seed(self, key: Key, answer: Value | CapabilityError) -> None:
        """Keep an answer (or a failure) in advance, as if it had been asked."""
        self._kept[key] = answer

    def items(self) -> Iterator[tuple[Key, Value | CapabilityError]]:
        """Every question asked or seeded, with its answer or failure, in order."""
        return iter(self._kept.items())
