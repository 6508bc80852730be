"""The work-item repository: the durable state behind the queue.

Queue messages carry only a work item's id; this table decides whether the work still has to be
done. Every state change is a single conditional UPDATE, so two workers that receive the same
message cannot both claim it, and a worker whose lease expired cannot resurrect a finished item.

Lifecycle: ``pending -> running -> done``; a failed attempt goes back to ``pending`` until
``max_attempts``, then ends ``failed`` (and ``retry_failed`` makes it ``pending`` again).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Update, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import Stage, WorkItem, WorkStatus, new_id, utcnow
from groundcode.storage.database import transaction
from groundcode.storage.tables import WorkItemRow

_UNFINISHED = (WorkStatus.PENDING.value, WorkStatus.RUNNING.value)


class WorkItemStore:
    """Creates, claims and finishes work items; SQLite and PostgreSQL, sync SQLAlchemy."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def ensure(self, stage: Stage, subject_id: str) -> WorkItem:
        """The work item for ``(stage, subject_id)``, created pending if it does not exist yet."""
        with transaction(self._sessions) as session:
            return _to_domain(insert_if_absent(session, stage, subject_id))

    def claim(self, item_id: str, lease_seconds: float) -> WorkItem | None:
        """Take the item for one attempt, or None if it is done, failed or leased by another worker."""
        now = utcnow()
        claimable = or_(
            WorkItemRow.status == WorkStatus.PENDING.value,
            _lease_expired(now),
        )
        return self._update_one(
            update(WorkItemRow)
            .where(WorkItemRow.id == item_id, claimable)
            .values(
                status=WorkStatus.RUNNING.value,
                attempts=WorkItemRow.attempts + 1,
                lease_expires_at=now + timedelta(seconds=lease_seconds),
                updated_at=now,
            )
        )

    def renew_lease(self, item_id: str, lease_seconds: float) -> None:
        """Extend the lease of a running item (no-op once it is no longer running)."""
        now = utcnow()
        self._update_one(
            update(WorkItemRow)
            .where(WorkItemRow.id == item_id, WorkItemRow.status == WorkStatus.RUNNING.value)
            .values(lease_expires_at=now + timedelta(seconds=lease_seconds), updated_at=now)
        )

    def complete(self, item: WorkItem, follow_ups: Sequence[tuple[Stage, str]]) -> list[WorkItem]:
        """Mark the claimed item done and create its follow-up items, in one transaction.

        Returns the follow-ups. A stale claim (the lease expired and the item was claimed again)
        changes nothing: the current owner finishes the item.
        """
        with transaction(self._sessions) as session:
            finished = session.execute(
                update(WorkItemRow)
                .where(_still_owned(item))
                .values(status=WorkStatus.DONE.value, lease_expires_at=None, updated_at=utcnow())
            )
            if finished.rowcount == 0:  # type: ignore[attr-defined]
                return []
            return [
                _to_domain(insert_if_absent(session, Stage(stage), subject_id))
                for stage, subject_id in follow_ups
            ]

    def record_failure(self, item: WorkItem, error: str, max_attempts: int) -> WorkItem:
        """Record a failed attempt: back to pending, or ``failed`` once ``max_attempts`` are used up."""
        status_after_failure = case(
            (WorkItemRow.attempts >= max_attempts, WorkStatus.FAILED.value),
            else_=WorkStatus.PENDING.value,
        )
        updated = self._update_one(
            update(WorkItemRow)
            # Only our own attempt: if another worker claimed or finished it meanwhile, its outcome stands.
            .where(_still_owned(item))
            .values(
                status=status_after_failure,
                last_error=error,
                lease_expires_at=None,
                updated_at=utcnow(),
            )
        )
        return updated or self._require(item.id)

    def redeliverable(self, pending_after_seconds: float, expired_after_seconds: float) -> list[WorkItem]:
        """Items whose message may be lost: pending and untouched for ``pending_after_seconds``, or
        running with an expired lease and untouched for ``expired_after_seconds``.

        Their ``updated_at`` is touched, so the next sweep waits as long again before re-sending them.
        """
        now = utcnow()
        stale_pending = and_(
            WorkItemRow.status == WorkStatus.PENDING.value,
            WorkItemRow.updated_at <= now - timedelta(seconds=pending_after_seconds),
        )
        stale_running = and_(
            _lease_expired(now), WorkItemRow.updated_at <= now - timedelta(seconds=expired_after_seconds)
        )
        return self._update_many(
            update(WorkItemRow).where(or_(stale_pending, stale_running)).values(updated_at=now)
        )

    def retry_failed(
        self, stage: Stage | None = None, item_ids: Collection[str] | None = None
    ) -> list[WorkItem]:
        """Make failed items, and running items whose lease expired (their process was killed), pending again
        with a fresh attempt budget; returns them."""
        conditions: list[ColumnElement[bool]] = [
            or_(WorkItemRow.status == WorkStatus.FAILED.value, _lease_expired(utcnow()))
        ]
        if stage is not None:
            conditions.append(WorkItemRow.stage == stage.value)
        if item_ids is not None:
            conditions.append(WorkItemRow.id.in_(item_ids))
        return self._update_many(
            update(WorkItemRow)
            .where(*conditions)
            .values(status=WorkStatus.PENDING.value, attempts=0, lease_expires_at=None, updated_at=utcnow())
        )

    def reset(self, stage: Stage, subject_ids: Collection[str]) -> list[WorkItem]:
        """Make the items of ``stage`` for these subjects pending again with a fresh attempt budget, so an
        explicit re-run redoes finished work (items are created if missing; running ones are left alone)."""
        with transaction(self._sessions) as session:
            for subject_id in subject_ids:
                insert_if_absent(session, stage, subject_id)
            session.execute(
                update(WorkItemRow)
                .where(
                    WorkItemRow.stage == stage.value,
                    WorkItemRow.subject_id.in_(subject_ids),
                    WorkItemRow.status.in_((WorkStatus.DONE.value, WorkStatus.FAILED.value)),
                )
                .values(
                    status=WorkStatus.PENDING.value,
                    attempts=0,
                    last_error=None,
                    lease_expires_at=None,
                    updated_at=utcnow(),
                )
            )
        return self.find(stage, subject_ids)

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of items by ``(stage, status)``."""
        query = select(WorkItemRow.stage, WorkItemRow.status, func.count()).group_by(
            WorkItemRow.stage, WorkItemRow.status
        )
        with self._sessions() as session:
            return {(stage, status): count for stage, status, count in session.execute(query)}

    def abandoned(self) -> list[WorkItem]:
        """Running items whose lease expired: the process working on them stopped (killed, or closed)."""
        query = select(WorkItemRow).where(_lease_expired(utcnow())).order_by(WorkItemRow.updated_at)
        with self._sessions() as session:
            return [_to_domain(row) for row in session.scalars(query)]

    def failures(self) -> list[WorkItem]:
        """All failed items, oldest failure first."""
        query = (
            select(WorkItemRow)
            .where(WorkItemRow.status == WorkStatus.FAILED.value)
            .order_by(WorkItemRow.updated_at)
        )
        with self._sessions() as session:
            return [_to_domain(row) for row in session.scalars(query)]

    def find(self, stage: Stage, subject_ids: Collection[str]) -> list[WorkItem]:
        """The existing items of ``stage`` for these subjects (subjects without one are left out)."""
        query = select(WorkItemRow).where(
            WorkItemRow.stage == stage.value, WorkItemRow.subject_id.in_(subject_ids)
        )
        with self._sessions() as session:
            return [_to_domain(row) for row in session.scalars(query)]

    def get(self, item_id: str) -> WorkItem | None:
        with self._sessions() as session:
            row = session.get(WorkItemRow, item_id)
            return _to_domain(row) if row is not None else None

    def outstanding(self, item_ids: Collection[str]) -> int:
        """How many of ``item_ids`` are not finished yet (neither done nor failed)."""
        query = (
            select(func.count())
            .select_from(WorkItemRow)
            .where(WorkItemRow.id.in_(item_ids), WorkItemRow.status.in_(_UNFINISHED))
        )
        with self._sessions() as session:
            return session.execute(query).scalar_one()

    def _update_one(self, statement: Update) -> WorkItem | None:
        with transaction(self._sessions) as session:
            row = session.scalars(statement.returning(WorkItemRow)).one_or_none()
            return _to_domain(row) if row is not None else None

    def _update_many(self, statement: Update) -> list[WorkItem]:
        with transaction(self._sessions) as session:
            return [_to_domain(row) for row in session.scalars(statement.returning(WorkItemRow))]

    def _require(self, item_id: str) -> WorkItem:
        item = self.get(item_id)
        if item is None:
            raise KeyError(f"no work item {item_id!r}")
        return item


def _still_owned(item: WorkItem) -> ColumnElement[bool]:
    """The claim that produced ``item`` is still the current one (same attempt, still running)."""
    return and_(
        WorkItemRow.id == item.id,
        WorkItemRow.status == WorkStatus.RUNNING.value,
        WorkItemRow.attempts == item.attempts,
    )


def _lease_expired(now: datetime) -> ColumnElement[bool]:
    return and_(WorkItemRow.status == WorkStatus.RUNNING.value, WorkItemRow.lease_expires_at < now)


def insert_if_absent(session: Session, stage: Stage, subject_id: str) -> WorkItemRow:
    """Get-or-create by idempotency key, safe against concurrent callers.

    ``INSERT ... ON CONFLICT DO NOTHING`` lets the database settle the race: the loser's insert
    is skipped (PostgreSQL waits for the winner's commit first) and both read the same row.
    """
    key = f"{stage.value}:{subject_id}"
    now = utcnow()
    values: dict[str, Any] = {
        "id": new_id(),
        "stage": stage.value,
        "subject_id": subject_id,
        "idempotency_key": key,
        "status": WorkStatus.PENDING.value,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(sqlite.insert(WorkItemRow).values(values).on_conflict_do_nothing())
    elif dialect == "postgresql":
        session.execute(postgresql.insert(WorkItemRow).values(values).on_conflict_do_nothing())
    else:
        raise NotImplementedError(f"work items are not supported on {dialect}")
    return session.scalars(select(WorkItemRow).where(WorkItemRow.idempotency_key == key)).one()


def _to_domain(row: WorkItemRow) -> WorkItem:
    return WorkItem.model_validate(row, from_attributes=True)
