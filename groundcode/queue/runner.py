"""Processing one delivered work item, and re-sending work whose message may have been lost.

Delivery is at-least-once, so ``WorkRunner.process`` must tolerate any message arriving twice,
late, or after the item is finished: the database claim decides whether this delivery does the
work. Lost messages (a killed worker, a crashed in-process queue) are found by the ``Sweeper``
from the database state and published again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor

from groundcode.domain import Stage, WorkItem, WorkStatus
from groundcode.observability import HANDLER_SECONDS, WORK_ITEMS_PROCESSED, work_item_context
from groundcode.queue.ports import FollowUps, Publish, StageHandler
from groundcode.settings import Settings
from groundcode.storage.work_items import WorkItemStore

logger = logging.getLogger(__name__)


class WorkRunner:
    """Claims a delivered item, runs its stage handler under a lease, and records the outcome."""

    def __init__(
        self,
        store: WorkItemStore,
        handlers: Mapping[Stage, StageHandler],
        settings: Settings,
        publish: Publish,
        *,
        concurrency: int = 4,
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self._store = store
        self._handlers = handlers
        self._lease_seconds = settings.lease_seconds
        self._max_attempts = settings.max_attempts
        self._publish = publish
        self._retry_backoff_seconds = retry_backoff_seconds
        # Handlers get their own threads: if they shared the default executor with the store calls,
        # long handlers could starve the lease renewals and lose their leases.
        self._handler_threads = ThreadPoolExecutor(concurrency, thread_name_prefix="groundcode-handler")

    async def submit(self, stage: Stage, subject_id: str) -> WorkItem:
        """Create the work item (if new) and publish it if it still has to be done."""
        item = await asyncio.to_thread(self._store.ensure, stage, subject_id)
        if item.status is WorkStatus.PENDING:
            await self._publish(item)
        return item

    async def retry_failed(
        self, stage: Stage | None = None, item_ids: Collection[str] | None = None
    ) -> list[WorkItem]:
        """Give failed items a fresh attempt budget and publish them again."""
        items = await asyncio.to_thread(self._store.retry_failed, stage, item_ids)
        for item in items:
            await self._publish(item)
        return items

    async def process(self, item_id: str) -> None:
        """Handle one delivery of ``item_id``. Duplicate or stale deliveries do nothing."""
        item = await asyncio.to_thread(self._store.claim, item_id, self._lease_seconds)
        if item is None:
            return  # done, failed, or leased by a live worker: this delivery is a duplicate
        with work_item_context(item):
            try:
                follow_ups = await self._run_handler(item)
                created = await asyncio.to_thread(self._store.complete, item, follow_ups)
            except Exception as error:
                WORK_ITEMS_PROCESSED.labels(stage=item.stage.value, outcome="failed").inc()
                await self._record_failure(item, error)
                return
            WORK_ITEMS_PROCESSED.labels(stage=item.stage.value, outcome="done").inc()
            await self._publish_quietly(
                follow_up for follow_up in created if follow_up.status is WorkStatus.PENDING
            )

    def close(self) -> None:
        """Release the handler threads (call after the queue stopped delivering)."""
        self._handler_threads.shutdown(wait=False, cancel_futures=True)

    async def _run_handler(self, item: WorkItem) -> FollowUps:
        handler = self._handlers.get(item.stage)
        if handler is None:
            raise LookupError(f"this worker has no handler for stage {item.stage.value!r}")
        renewals = asyncio.create_task(self._keep_lease(item.id))
        started = time.monotonic()
        try:
            loop = asyncio.get_running_loop()
            # With a copy of this context, the handler's log records name the work item too.
            run = contextvars.copy_context().run
            return await loop.run_in_executor(self._handler_threads, run, handler, item.subject_id)
        finally:
            HANDLER_SECONDS.labels(stage=item.stage.value).observe(time.monotonic() - started)
            renewals.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewals

    async def _keep_lease(self, item_id: str) -> None:
        """Renew the lease every third of its length, so only a dead worker's lease expires."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                await asyncio.to_thread(self._store.renew_lease, item_id, self._lease_seconds)
            except Exception:
                logger.warning("could not renew the lease of work item %s", item_id, exc_info=True)

    async def _record_failure(self, item: WorkItem, error: Exception) -> None:
        message = f"{type(error).__name__}: {error}"
        logger.warning(
            "%s of %s failed (attempt %d of %d): %s",
            item.stage.value,
            item.subject_id,
            item.attempts,
            self._max_attempts,
            message,
        )
        updated = await asyncio.to_thread(self._store.record_failure, item, message, self._max_attempts)
        if updated.status is WorkStatus.PENDING:
            await asyncio.sleep(self._retry_backoff_seconds * updated.attempts)
            await self._publish_quietly([updated])

    async def _publish_quietly(self, items: Iterable[WorkItem]) -> None:
        # The items are committed as pending, so a failed publish only delays them until the next sweep.
        for item in items:
            try:
                await self._publish(item)
            except Exception:
                logger.warning("could not publish work item %s; the sweeper will resend it", item.id)


class Sweeper:
    """Re-publishes work whose message may be lost, at start-up and then periodically.

    That covers messages lost with a killed worker or an in-process queue, trimmed from a stream,
    or never sent because the queue was down when the item was committed.
    """

    def __init__(
        self,
        store: WorkItemStore,
        publish: Publish,
        *,
        pending_after_seconds: float,
        expired_after_seconds: float,
        interval_seconds: float,
    ) -> None:
        self._store = store
        self._publish = publish
        self._pending_after_seconds = pending_after_seconds
        self._expired_after_seconds = expired_after_seconds
        self._interval_seconds = interval_seconds

    async def sweep_once(self, *, everything: bool = False) -> int:
        """Publish every redeliverable item once (``everything``: all pending and expired items,
        however recently touched); returns how many were published."""
        thresholds = (0.0, 0.0) if everything else (self._pending_after_seconds, self._expired_after_seconds)
        items = await asyncio.to_thread(self._store.redeliverable, *thresholds)
        for item in items:
            await self._publish(item)
        if items:
            logger.info("re-published %d stalled work items", len(items))
        return len(items)

    async def run(self, *, everything_first: bool = False) -> None:
        """Sweep now (all pending work, if ``everything_first``), then every interval until cancelled."""
        await self._sweep_logging_errors(everything=everything_first)
        while True:
            await asyncio.sleep(self._interval_seconds)
            await self._sweep_logging_errors()

    async def _sweep_logging_errors(self, *, everything: bool = False) -> None:
        try:
            await self.sweep_once(everything=everything)
        except Exception:
            logger.warning("sweeping stalled work items failed; retrying next interval", exc_info=True)
