"""The child's jobs on their way to the parent.

Each job names its place (its location and call stack) by index in a table of places,
and each place crosses the pipe once. Asked to, the outbox sends the jobs in slices
while the pipeline still runs, so that the parent re-checks them on its own core
meanwhile; whatever is left goes with the result. A slice is only ever a part of the
result: the parent keeps nothing of it unless the result follows.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.core.jobs import Job

# Jobs per slice: large enough that a slice costs little to send, small enough that the
# parent starts early and a slice stays well under the pipe's message limit.
SLICE = 256


class JobOutbox:
    """Jobs and places not sent yet; `send`, when given, takes each full slice."""

    def __init__(self, send: Callable[[dict[str, Any]], None] | None = None) -> None:
        self._send = send
        self._places: dict[tuple[int, int], int] = {}
        self._items: list[dict[str, Any]] = []
        self._new_places: list[dict[str, Any]] = []

    def add(self, job: Job) -> None:
        """Queue one job; send a slice when one is full."""
        # Jobs made at one place share its location and stack objects.
        key = (id(job.location), id(job.stack))
        index = self._places.get(key)
        if index is None:
            index = self._places[key] = len(self._places)
            self._new_places.append({"location": job.location.to_json(),
                                     "stack": [frame.to_json() for frame in job.stack]})
        self._items.append({"workflow": job.workflow, "fields": job.fields, "site": index})
        if self._send is not None and len(self._items) >= SLICE:
            self._send({"type": "jobs", "jobs": self._items, "sites": self._new_places})
            self._items, self._new_places = [], []

    def rest(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The jobs and the places not sent yet, for the result."""
        return self._items, self._new_places
