"""A light base for value objects.

`dataclasses` and `typing` cost several milliseconds to import, which is a large share
of an ingest run's start-up, so the engine's hot path uses plain slotted classes.
"""

from __future__ import annotations


class Record:
    """Equality, hashing and repr derived from `__slots__`; a slot whose name starts
    with `_` holds something derived from the others (a cache) and is left out."""

    __slots__: tuple[str, ...] = ()

    def _names(self) -> list[str]:
        return [name for name in self.__slots__ if not name.startswith("_")]

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._names())
        return f"{type(self).__name__}({inner})"
