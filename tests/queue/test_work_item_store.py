"""Work-item transitions that protect against stale workers, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from groundcode.domain import Stage, WorkStatus
from groundcode.storage.database import session_factory
from groundcode.storage.work_items import WorkItemStore


def test_a_stale_claim_cannot_fail_or_finish_the_new_owners_attempt(engine: Engine) -> None:
    store = WorkItemStore(session_factory(engine))
    item = store.ensure(Stage.CHUNK, "source-1")
    stale = store.claim(item.id, lease_seconds=0.05)
    assert stale is not None and stale.attempts == 1
    time.sleep(0.1)  # the first worker stalls past its lease; another worker takes the item over
    current = store.claim(item.id, lease_seconds=60)
    assert current is not None and current.attempts == 2

    after_stale_failure = store.record_failure(stale, "TimeoutError: too slow", max_attempts=1)
    assert after_stale_failure.status is WorkStatus.RUNNING and after_stale_failure.last_error is None
    assert store.complete(stale, [(Stage.CHUNK, "follow-up")]) == []
    assert store.get(item.id).status is WorkStatus.RUNNING  # type: ignore[union-attr]

    assert [f.subject_id for f in store.complete(current, [(Stage.CHUNK, "follow-up")])] == ["follow-up"]
    assert store.get(item.id).status is WorkStatus.DONE  # type: ignore[union-attr]


def test_pending_items_are_resent_only_after_their_threshold(engine: Engine) -> None:
    store = WorkItemStore(session_factory(engine))
    item = store.ensure(Stage.CHUNK, "source-1")
    assert store.redeliverable(pending_after_seconds=60, expired_after_seconds=60) == []
    assert [i.id for i in store.redeliverable(pending_after_seconds=0, expired_after_seconds=60)] == [item.id]


def test_reset_makes_finished_items_pending_and_leaves_running_ones(engine: Engine) -> None:
    store = WorkItemStore(session_factory(engine))
    done = store.ensure(Stage.SUGGEST, "source-1")
    claimed = store.claim(done.id, lease_seconds=60)
    assert claimed is not None and store.complete(claimed, []) == []
    running = store.ensure(Stage.SUGGEST, "source-2")
    assert store.claim(running.id, lease_seconds=60) is not None

    reset = {item.subject_id: item for item in store.reset(Stage.SUGGEST, ["source-1", "source-2", "new"])}

    assert reset["source-1"].id == done.id and reset["source-1"].status is WorkStatus.PENDING
    assert reset["source-1"].attempts == 0
    assert reset["source-2"].status is WorkStatus.RUNNING
    assert reset["new"].status is WorkStatus.PENDING
    assert store.find(Stage.CHUNK, ["source-1"]) == []


def test_retry_sends_again_what_a_killed_process_left_running(engine: Engine) -> None:
    """A CLI import killed mid-item leaves it running; once its lease expired, status names it and retry
    takes it (no need to wait for a sweeper), while a live worker's item is left alone."""
    store = WorkItemStore(session_factory(engine))
    abandoned = store.ensure(Stage.CHUNK, "killed")
    alive = store.ensure(Stage.CHUNK, "working")
    assert store.claim(abandoned.id, lease_seconds=0.05) is not None
    assert store.claim(alive.id, lease_seconds=60) is not None
    time.sleep(0.1)

    assert [item.id for item in store.abandoned()] == [abandoned.id]
    retried = store.retry_failed()

    assert [item.id for item in retried] == [abandoned.id]
    assert retried[0].status is WorkStatus.PENDING and retried[0].attempts == 0
    assert store.get(alive.id).status is WorkStatus.RUNNING  # type: ignore[union-attr]
