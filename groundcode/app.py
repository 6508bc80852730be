"""The composition root: builds every adapter from one ``Settings``. Nothing else constructs adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from groundcode.domain import Stage, WorkItem, WorkStatus
from groundcode.queue import StageHandler, WorkService
from groundcode.settings import Settings
from groundcode.storage.database import create_database_engine, migrate, session_factory
from groundcode.storage.repository import Repository
from groundcode.storage.work_items import WorkItemStore
from services.chunking.ingest import chunk_source
from services.retrieval.embeddings import Embedder, embedder_from_settings
from services.retrieval.indexing import index_codebook_handler, index_source_handler
from services.retrieval.vector_store import VectorStore, vector_store_from_settings

ALL_STAGES: tuple[Stage, ...] = tuple(Stage)
NEXT_STAGE: dict[Stage, Stage] = {Stage.CHUNK: Stage.INDEX}
"""Which stage a subject goes to after each stage (the follow-ups the handlers hand on)."""
STAGE_LABELS = {Stage.CHUNK: "Chunking", Stage.INDEX: "Indexing", Stage.INDEX_CODEBOOK: "Indexing codebook"}


@dataclass
class Groundcode:
    """One process's view of groundcode: settings, database access and the stage handlers."""

    settings: Settings
    engine: Engine
    repository: Repository
    work_items: WorkItemStore

    @cached_property
    def embedder(self) -> Embedder:
        """Built on first use: loading the model takes a moment and only indexing and search need it."""
        return embedder_from_settings(self.settings)

    @cached_property
    def vector_store(self) -> VectorStore:
        return vector_store_from_settings(self.settings)

    def handlers(self) -> dict[Stage, StageHandler]:
        """The handler of every pipeline stage, bound to this process's adapters."""
        return {
            Stage.CHUNK: lambda source_id: chunk_source(self.repository, source_id),
            Stage.INDEX: lambda source_id: index_source_handler(
                self.repository, self.embedder, self.vector_store, source_id
            ),
            Stage.INDEX_CODEBOOK: lambda codebook_id: index_codebook_handler(
                self.repository, self.embedder, self.vector_store, codebook_id
            ),
        }

    def work_service(self, consume: Collection[Stage] | None = None) -> WorkService:
        """Queue, runner and sweeper. By default the embedded queue runs every stage in this process,
        while with Redis this process only publishes (separate ``groundcode worker`` processes consume)."""
        if consume is None:
            consume = ALL_STAGES if self.settings.queue == "inprocess" else ()
        return WorkService(self.settings, self.work_items, self.handlers(), consume=consume)

    def close(self) -> None:
        self.engine.dispose()


def open_groundcode(settings: Settings | None = None) -> Groundcode:
    """Connect to the configured database, migrating its schema to the newest version."""
    settings = settings or Settings()
    engine = create_database_engine(settings.resolved_database_url())
    migrate(engine)
    sessions = session_factory(engine)
    return Groundcode(
        settings=settings,
        engine=engine,
        repository=Repository(sessions),
        work_items=WorkItemStore(sessions),
    )


async def wait_until_finished(
    work_items: WorkItemStore,
    items: Sequence[WorkItem],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    poll_seconds: float = 0.1,
) -> None:
    """Wait until none of ``items`` is pending or running; reports ``(finished, total)`` as it goes."""
    ids = [item.id for item in items]
    while True:
        outstanding = await asyncio.to_thread(work_items.outstanding, ids)
        if on_progress is not None:
            on_progress(len(ids) - outstanding, len(ids))
        if outstanding == 0:
            return
        await asyncio.sleep(poll_seconds)


async def wait_until_idle(
    work_items: WorkItemStore, stages: Collection[Stage], *, poll_seconds: float = 0.1
) -> None:
    """Wait until no work item of ``stages`` is pending or running."""
    busy = {
        (stage.value, status.value) for stage in stages for status in (WorkStatus.PENDING, WorkStatus.RUNNING)
    }
    while True:
        counts = await asyncio.to_thread(work_items.counts)
        if not any(counts.get(key, 0) for key in busy):
            return
        await asyncio.sleep(poll_seconds)
