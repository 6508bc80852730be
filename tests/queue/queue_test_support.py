"""Helpers shared by the queue tests and their worker subprocess (``worker_process.py``)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import content_hash, derived_id, new_id, utcnow
from groundcode.queue.ports import FollowUps
from groundcode.settings import Settings
from groundcode.storage.database import transaction
from groundcode.storage.tables import ProjectRow, SegmentRow, SourceRow

LEASE_SECONDS = 1.0
SEGMENT_LENGTH = 5
SEGMENTS_PER_SOURCE = 4


def create_sources(sessions: sessionmaker[Session], count: int) -> list[str]:
    """A project with ``count`` sources; returns the source ids."""
    now = utcnow()
    project = ProjectRow(id=new_id(), name=f"project-{new_id()}", created_at=now)
    sources = [
        SourceRow(
            id=new_id(),
            project_id=project.id,
            name=f"source-{number}.txt",
            format="txt",
            language="en",
            text="x" * SEGMENT_LENGTH * SEGMENTS_PER_SOURCE,
            content_hash=content_hash(f"source {number}"),
            metadata_={},
            imported_at=now,
        )
        for number in range(count)
    ]
    with transaction(sessions) as session:
        session.add(project)
        session.flush()
        session.add_all(sources)
    return [source.id for source in sources]


def segment_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Number of segment rows per source id."""
    query = select(SegmentRow.source_id, func.count()).group_by(SegmentRow.source_id)
    with sessions() as session:
        return {source_id: count for source_id, count in session.execute(query)}


def make_settings(database_url: str, backend: str, redis_url: str, queue_prefix: str) -> Settings:
    """Short leases and sweeps, so redelivery happens within a second or two."""
    return Settings(
        database_url=database_url,
        queue=backend,
        redis_url=redis_url,
        queue_prefix=queue_prefix,
        lease_seconds=LEASE_SECONDS,
        max_attempts=3,
        sweep_interval_seconds=0.3,
        resend_pending_after_seconds=LEASE_SECONDS,
    )


class SegmentWriter:
    """A stage handler with a real effect: replaces a source's segments in one transaction.

    Re-running it leaves the same rows (idempotent); ``calls`` counts how often it ran per source.
    With ``block_until`` it first waits for that file, which tests use to hang a worker mid-item.
    """

    def __init__(self, sessions: sessionmaker[Session], block_until: Path | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self._sessions = sessions
        self._block_until = block_until
        self._lock = threading.Lock()

    def __call__(self, source_id: str, /) -> FollowUps:
        with self._lock:
            self.calls[source_id] += 1
        while self._block_until is not None and not self._block_until.exists():
            time.sleep(0.05)
        with transaction(self._sessions) as session:
            session.execute(delete(SegmentRow).where(SegmentRow.source_id == source_id))
            session.add_all(_segment(source_id, position) for position in range(SEGMENTS_PER_SOURCE))
        return []


def _segment(source_id: str, position: int) -> SegmentRow:
    start = position * SEGMENT_LENGTH
    return SegmentRow(
        id=derived_id(source_id, str(position)),
        source_id=source_id,
        position=position,
        start=start,
        end=start + SEGMENT_LENGTH,
        text="x" * SEGMENT_LENGTH,
        unit="window",
        speaker=None,
        metadata_={},
    )


async def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, state: Callable[[], object]
) -> None:
    """Poll ``condition`` (in a thread: it may query the database) until true, or fail showing ``state()``."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; state: {state()}")
        await asyncio.sleep(0.05)
