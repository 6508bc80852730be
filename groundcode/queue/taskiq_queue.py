"""The queue backends (taskiq), and ``WorkService``, which wires a backend to the runner and sweeper.

* ``inprocess`` (embedded default): a taskiq ``InMemoryBroker``; published ids are processed by
  this same process. Nothing survives the process, so start-up re-sends all pending work.
* ``redis`` (scale-out): one Redis stream per stage (``{queue_prefix}:{stage}``) read by a consumer
  group through taskiq-redis' ``RedisStreamBroker``. A message is acked only after it was processed;
  a killed worker's unacked messages are claimed by another consumer once idle for a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any

from taskiq import AsyncBroker, AsyncTaskiqDecoratedTask, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from groundcode.domain import Stage, WorkItem
from groundcode.queue.ports import ProcessItem, StageHandler, WorkQueue
from groundcode.queue.runner import Sweeper, WorkRunner
from groundcode.settings import Settings
from groundcode.storage.work_items import WorkItemStore

logger = logging.getLogger(__name__)

TASK_NAME = "groundcode.process_work_item"
CONSUMER_GROUP = "groundcode-workers"
# Bounds each stream; acked messages are never deleted otherwise. If a backlog ever exceeds it,
# the trimmed messages' items are still pending in the database and the sweeper re-sends them.
STREAM_MAXLEN = 100_000
RELISTEN_DELAY_SECONDS = 1.0

_ProcessTask = AsyncTaskiqDecoratedTask[[str], Any]


class InProcessWorkQueue:
    """Processes published ids in this process, at most ``concurrency`` at a time (every stage)."""

    durable = False

    def __init__(self, process: ProcessItem, concurrency: int) -> None:
        self._process = process
        self._slots = asyncio.Semaphore(concurrency)
        self._stopping = False
        self._broker = InMemoryBroker()
        self._task = _register_process_task(self._broker, self._run)

    async def start(self, consume: Collection[Stage] = ()) -> None:
        """Start the broker; ``consume`` is ignored, as everything published here is processed here."""
        await self._broker.startup()

    async def stop(self) -> None:
        """Finish the items being processed; the rest stay pending in the database for the next start."""
        self._stopping = True
        await self._broker.wait_all()
        await self._broker.shutdown()

    async def publish(self, item: WorkItem) -> None:
        if not self._stopping:
            await self._task.kiq(item.id)

    async def _run(self, item_id: str) -> None:
        async with self._slots:
            if not self._stopping:
                await self._process(item_id)


class RedisStreamWorkQueue:
    """One Redis stream per stage; ``start(consume=...)`` runs a taskiq ``Receiver`` for each given stage."""

    durable = True

    def __init__(self, settings: Settings, process: ProcessItem, concurrency: int) -> None:
        self._concurrency = concurrency
        self._brokers = {stage: _stream_broker(settings, stage, concurrency) for stage in Stage}
        self._tasks = {
            stage: _register_process_task(broker, process) for stage, broker in self._brokers.items()
        }
        self._stopping = asyncio.Event()
        self._listeners: list[asyncio.Task[None]] = []

    async def start(self, consume: Collection[Stage] = ()) -> None:
        for stage in consume:
            receiver = Receiver(
                self._brokers[stage],
                max_async_tasks=self._concurrency,
                # Each (re)start of listening declares the consumer group, which a restarted Redis may lack.
                run_startup=True,
                # Ack only once processed: a worker killed mid-item leaves its message pending in the
                # group, and another consumer claims it after ``idle_timeout``. The database claim
                # turns such a redelivery into a no-op if the item was finished after all.
                ack_type=AcknowledgeType.WHEN_EXECUTED,
            )
            self._listeners.append(asyncio.create_task(self._listen(receiver, stage)))

    async def stop(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._listeners)
        for broker in self._brokers.values():
            await broker.shutdown()

    async def publish(self, item: WorkItem) -> None:
        await self._tasks[item.stage].kiq(item.id)

    async def _listen(self, receiver: Receiver, stage: Stage) -> None:
        """Run the receiver until stopped; it raises if Redis goes away, so listen again after a pause."""
        while not self._stopping.is_set():
            try:
                await receiver.listen(self._stopping)
            except Exception as error:
                logger.warning("listening to the %s stream failed (%r); listening again", stage.value, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), RELISTEN_DELAY_SECONDS)


def _register_process_task(broker: AsyncBroker, process: ProcessItem) -> _ProcessTask:
    # A fresh function per registration: taskiq renames the function it registers (and publishes it
    # under the new name in its module), which fails for bound methods and stacks up on shared ones.
    async def process_work_item(item_id: str) -> None:
        await process(item_id)

    return broker.register_task(process_work_item, task_name=TASK_NAME)


def stream_name(settings: Settings, stage: Stage) -> str:
    return f"{settings.queue_prefix}:{stage.value}"


def _stream_broker(settings: Settings, stage: Stage, concurrency: int) -> RedisStreamBroker:
    return RedisStreamBroker(
        url=settings.redis_url,
        queue_name=stream_name(settings, stage),
        consumer_group_name=CONSUMER_GROUP,
        consumer_name=f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        # A group created after messages were published must still read them (the default "$" would not).
        consumer_id="0",
        # Read no more than we can run at once, so idle consumers get the rest of the stream.
        xread_count=concurrency,
        # A message unacked this long belongs to a dead (or stuck) worker and may be claimed by
        # another consumer; with a live worker the item's lease makes that redelivery a no-op.
        idle_timeout=int(settings.lease_seconds * 1000),
        maxlen=STREAM_MAXLEN,
    )


def build_work_queue(settings: Settings, process: ProcessItem, concurrency: int = 4) -> WorkQueue:
    """The backend chosen by ``settings.queue``, delivering ids to ``process``."""
    if settings.queue == "redis":
        return RedisStreamWorkQueue(settings, process, concurrency)
    return InProcessWorkQueue(process, concurrency)


class WorkService:
    """Everything a process needs to submit and process work: queue, runner and sweeper.

    ``async with WorkService(...) as service: await service.runner.submit(stage, subject_id)``.
    With the in-process queue it processes everything submitted; with Redis it processes the
    ``consume`` stages (none: a pure publisher, such as the CLI talking to separate workers).
    """

    def __init__(
        self,
        settings: Settings,
        store: WorkItemStore,
        handlers: Mapping[Stage, StageHandler],
        *,
        consume: Collection[Stage] = (),
        concurrency: int = 4,
        retry_backoff_seconds: float = 1.0,
    ) -> None:
        self._consume = consume
        self.runner = WorkRunner(
            store,
            handlers,
            settings,
            self._publish,
            concurrency=concurrency,
            retry_backoff_seconds=retry_backoff_seconds,
        )
        self.queue = build_work_queue(settings, self.runner.process, concurrency)
        self.sweeper = Sweeper(
            store,
            self._publish,
            pending_after_seconds=settings.resend_pending_after_seconds,
            expired_after_seconds=settings.lease_seconds,
            interval_seconds=settings.sweep_interval_seconds,
        )
        self._sweeping: asyncio.Task[None] | None = None

    async def __aenter__(self) -> WorkService:
        await self.queue.start(self._consume)
        # A fresh in-process queue is empty, so every pending item must be re-sent, not just stalled ones.
        self._sweeping = asyncio.create_task(self.sweeper.run(everything_first=not self.queue.durable))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._sweeping is not None:
            self._sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeping
        await self.queue.stop()
        self.runner.close()

    async def _publish(self, item: WorkItem) -> None:
        await self.queue.publish(item)
