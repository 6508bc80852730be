"""The two seams of the work queue: what a pipeline stage implements, and what a queue backend offers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Protocol

from groundcode.domain import Stage, WorkItem

FollowUps = Sequence[tuple[Stage, str]]
"""Work a finished item hands on: ``(stage, subject_id)`` pairs, created as new work items."""

Publish = Callable[[WorkItem], Awaitable[None]]
ProcessItem = Callable[[str], Awaitable[None]]


class StageHandler(Protocol):
    """Does one stage's work for one subject (e.g. chunks one source) and returns the follow-up work.

    Runs in a worker thread. Must be idempotent: after a crash or a duplicate delivery the same
    subject may be handled again, and the result must be as if it ran once.
    """

    def __call__(self, subject_id: str, /) -> FollowUps: ...


class WorkQueue(Protocol):
    """Delivers work-item ids to ``process`` at least once. The database, not the queue, holds the state."""

    @property
    def durable(self) -> bool:
        """Whether published messages survive this process (if not, start-up re-sends all pending work)."""
        ...

    async def start(self, consume: Collection[Stage] = ()) -> None:
        """Connect, and start delivering the messages of the ``consume`` stages to this process."""
        ...

    async def stop(self) -> None:
        """Stop delivering, let in-flight items finish, and disconnect."""
        ...

    async def publish(self, item: WorkItem) -> None:
        """Send the item's id to the workers of its stage."""
        ...
