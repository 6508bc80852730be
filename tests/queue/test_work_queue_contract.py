"""One contract for both queue backends (in-process and Redis Streams), on SQLite and PostgreSQL.

Delivery is at-least-once; the database claim must make every item's effect happen once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from queue_test_support import (
    SEGMENTS_PER_SOURCE,
    SegmentWriter,
    create_sources,
    make_settings,
    segment_counts,
    wait_until,
)
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import Stage, WorkItem, WorkStatus
from groundcode.queue.ports import FollowUps
from groundcode.queue.taskiq_queue import WorkService, build_work_queue
from groundcode.settings import Settings
from groundcode.storage.work_items import WorkItemStore

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")


def _done(store: WorkItemStore, items: list[WorkItem]) -> bool:
    return store.outstanding([item.id for item in items]) == 0


async def test_every_submitted_item_ends_done(
    queue_settings: Settings, store: WorkItemStore, sessions: sessionmaker[Session]
) -> None:
    source_ids = create_sources(sessions, 200)
    writer = SegmentWriter(sessions)
    async with WorkService(queue_settings, store, {Stage.CHUNK: writer}, consume=[Stage.CHUNK]) as service:
        items = [await service.runner.submit(Stage.CHUNK, source_id) for source_id in source_ids]
        await wait_until(lambda: _done(store, items), timeout=30, what="200 items", state=store.counts)

    assert store.counts() == {("chunk", "done"): 200}
    assert set(writer.calls) == set(source_ids)
    assert segment_counts(sessions) == dict.fromkeys(source_ids, SEGMENTS_PER_SOURCE)


async def test_duplicate_deliveries_run_the_handler_once(
    queue_settings: Settings, store: WorkItemStore, sessions: sessionmaker[Session]
) -> None:
    source_ids = create_sources(sessions, 50)
    writer = SegmentWriter(sessions)
    async with WorkService(queue_settings, store, {Stage.CHUNK: writer}, consume=[Stage.CHUNK]) as service:
        items = [await service.runner.submit(Stage.CHUNK, source_id) for source_id in source_ids]
        for item in items:
            await service.queue.publish(item)  # a second delivery of every id
        # Submitting again must neither create a second item nor re-run a finished one.
        assert [(await service.runner.submit(Stage.CHUNK, s)).id for s in source_ids] == [i.id for i in items]
        await wait_until(lambda: _done(store, items), timeout=20, what="all items", state=store.counts)

    assert writer.calls == Counter(dict.fromkeys(source_ids, 1))
    assert segment_counts(sessions) == dict.fromkeys(source_ids, SEGMENTS_PER_SOURCE)


class FlakyHandler:
    """Raises until ``fixed``; counts its calls."""

    def __init__(self) -> None:
        self.fixed = False
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, subject_id: str, /) -> FollowUps:
        with self._lock:
            self.calls += 1
        if not self.fixed:
            raise ValueError(f"cannot chunk {subject_id}")
        return []


async def test_poison_item_fails_visibly_and_retry_completes_it(
    queue_settings: Settings, store: WorkItemStore
) -> None:
    handler = FlakyHandler()
    async with WorkService(
        queue_settings, store, {Stage.CHUNK: handler}, consume=[Stage.CHUNK], retry_backoff_seconds=0.05
    ) as service:
        item = await service.runner.submit(Stage.CHUNK, "poison")
        await wait_until(
            lambda: store.outstanding([item.id]) == 0, timeout=20, what="the item to fail", state=store.counts
        )
        failed = store.get(item.id)
        assert failed is not None
        assert (failed.status, failed.attempts) == (WorkStatus.FAILED, queue_settings.max_attempts)
        assert failed.last_error == "ValueError: cannot chunk poison"
        assert [f.id for f in store.failures()] == [item.id]
        assert handler.calls == queue_settings.max_attempts

        handler.fixed = True
        assert [i.id for i in await service.runner.retry_failed(Stage.CHUNK)] == [item.id]
        await wait_until(
            lambda: _done(store, [item]), timeout=20, what="the retried item", state=store.counts
        )

    done = store.get(item.id)
    assert done is not None
    assert (done.status, done.attempts) == (WorkStatus.DONE, 1)
    assert store.failures() == []


async def test_follow_ups_are_processed_by_the_next_stage(
    queue_settings: Settings, store: WorkItemStore
) -> None:
    # Stage has a single member so far, so the "next stage" is chunk again, for a derived subject.
    seen: list[str] = []

    def parent_then_child(subject_id: str, /) -> FollowUps:
        seen.append(subject_id)
        return (
            [(Stage.CHUNK, subject_id.replace("parent", "child"))] if subject_id.startswith("parent") else []
        )

    parents = [f"parent-{number}" for number in range(10)]
    async with WorkService(
        queue_settings, store, {Stage.CHUNK: parent_then_child}, consume=[Stage.CHUNK]
    ) as service:
        for parent in parents:
            await service.runner.submit(Stage.CHUNK, parent)
        await wait_until(
            lambda: store.counts() == {("chunk", "done"): 20},
            timeout=20,
            what="parents and children",
            state=store.counts,
        )

    assert sorted(seen) == sorted(parents + [p.replace("parent", "child") for p in parents])


class SlowRecorder:
    """Takes a little while per item, and counts which worker handled it."""

    def __init__(self, worker: str, handled_by: Counter[str]) -> None:
        self._worker = worker
        self._handled_by = handled_by
        self._lock = threading.Lock()

    def __call__(self, subject_id: str, /) -> FollowUps:
        threading.Event().wait(0.05)
        with self._lock:
            self._handled_by[self._worker] += 1
        return []


@pytest.mark.redis
async def test_two_redis_workers_share_a_stage(
    database_url: str, redis_url: str, queue_prefix: str, store: WorkItemStore
) -> None:
    settings = make_settings(database_url, "redis", redis_url, queue_prefix)
    handled_by: Counter[str] = Counter()
    handlers_a = {Stage.CHUNK: SlowRecorder("a", handled_by)}
    handlers_b = {Stage.CHUNK: SlowRecorder("b", handled_by)}
    async with (
        WorkService(settings, store, handlers_a, consume=[Stage.CHUNK], concurrency=2) as a,
        WorkService(settings, store, handlers_b, consume=[Stage.CHUNK], concurrency=2),
    ):
        items = [await a.runner.submit(Stage.CHUNK, f"subject-{number}") for number in range(40)]
        await wait_until(lambda: _done(store, items), timeout=20, what="40 items", state=store.counts)

    assert handled_by["a"] + handled_by["b"] == 40
    assert min(handled_by["a"], handled_by["b"]) >= 5, handled_by


@pytest.mark.redis
async def test_redis_reclaims_messages_a_stuck_consumer_never_acked(
    redis_url: str, queue_prefix: str
) -> None:
    settings = Settings(queue="redis", redis_url=redis_url, queue_prefix=queue_prefix, lease_seconds=1.0)
    release = asyncio.Event()
    held: list[str] = []
    reclaimed: list[str] = []

    async def hold_forever(item_id: str) -> None:
        held.append(item_id)
        await release.wait()

    async def record(item_id: str) -> None:
        reclaimed.append(item_id)

    stuck, healthy = build_work_queue(settings, hold_forever), build_work_queue(settings, record)
    items = [WorkItem(stage=Stage.CHUNK, subject_id=f"s{n}", idempotency_key=f"chunk:s{n}") for n in range(5)]
    try:
        await stuck.start([Stage.CHUNK])
        for item in items[:4]:
            await stuck.publish(item)
        await wait_until(lambda: len(held) == 4, timeout=10, what="the stuck consumer", state=held.copy)
        await healthy.start([Stage.CHUNK])
        await asyncio.sleep(settings.lease_seconds)  # unacked for idle_timeout (= the lease)
        # taskiq-redis 1.2.4 only runs XAUTOCLAIM after a read that returned messages: send one.
        await healthy.publish(items[4])
        expected = sorted(item.id for item in items)
        await wait_until(
            lambda: sorted(reclaimed) == expected, timeout=10, what="reclaim", state=reclaimed.copy
        )
    finally:
        release.set()
        await stuck.stop()
        await healthy.stop()


@pytest.fixture
def worker_processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker subprocesses started by a test; killed afterwards whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _start_worker(settings: Settings, block_until: Path | None = None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.resolved_database_url(),
        "GROUNDCODE_QUEUE": settings.queue,
        "GROUNDCODE_REDIS_URL": settings.redis_url,
        "GROUNDCODE_QUEUE_PREFIX": settings.queue_prefix,
        "GROUNDCODE_LEASE_SECONDS": str(settings.lease_seconds),
        "GROUNDCODE_MAX_ATTEMPTS": str(settings.max_attempts),
        "GROUNDCODE_SWEEP_INTERVAL_SECONDS": str(settings.sweep_interval_seconds),
        "GROUNDCODE_RESEND_PENDING_AFTER_SECONDS": str(settings.resend_pending_after_seconds),
    }
    arguments = ["--block-until", str(block_until)] if block_until else []
    return subprocess.Popen([sys.executable, str(WORKER_SCRIPT), *arguments], env=env)


async def _publish_from_outside(settings: Settings, items: list[WorkItem]) -> None:
    """Put the items on the Redis streams without consuming them here."""

    async def not_consumed_here(item_id: str) -> None:
        raise AssertionError("this queue only publishes")

    queue = build_work_queue(settings, not_consumed_here)
    await queue.start()
    for item in items:
        await queue.publish(item)
    await queue.stop()


async def test_work_of_a_killed_worker_is_finished_by_another(
    queue_settings: Settings,
    store: WorkItemStore,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    worker_processes: list[subprocess.Popen[bytes]],
) -> None:
    source_ids = create_sources(sessions, 12)
    items = [store.ensure(Stage.CHUNK, source_id) for source_id in source_ids]
    if queue_settings.queue == "redis":
        await _publish_from_outside(queue_settings, items)
    # In-process, the first worker's start-up sweep finds the pending items itself.

    hanging = _start_worker(queue_settings, block_until=tmp_path / "never-created")
    worker_processes.append(hanging)
    await wait_until(
        lambda: store.counts().get(("chunk", "running"), 0) > 0,
        timeout=20,
        what="the first worker to claim an item",
        state=store.counts,
    )
    hanging.kill()  # SIGKILL: no clean-up, its claimed items keep their (soon expired) leases
    hanging.wait(timeout=10)
    claimed_by_the_dead = {item.id for item in items if _status(store, item) is WorkStatus.RUNNING}
    assert claimed_by_the_dead

    worker_processes.append(_start_worker(queue_settings))
    await wait_until(lambda: _done(store, items), timeout=30, what="the second worker", state=store.counts)

    assert store.counts() == {("chunk", "done"): 12}
    assert segment_counts(sessions) == dict.fromkeys(source_ids, SEGMENTS_PER_SOURCE)
    for item_id in claimed_by_the_dead:
        recovered = store.get(item_id)
        assert recovered is not None
        assert recovered.attempts == 2, recovered


def _status(store: WorkItemStore, item: WorkItem) -> WorkStatus | None:
    current = store.get(item.id)
    return current.status if current is not None else None
