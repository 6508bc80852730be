"""The decision store: researchers' decisions, appended and never changed, with optimistic versions.

Each coder's review of a segment (and of the shared codebook) has a version. A decision says which version
it was made on; if another decision got there first, it is refused with ``VersionConflict`` rather than
silently applied to a state the researcher never saw.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import delete, distinct, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from groundcode.domain import Decision, DecisionKind, Stage
from groundcode.errors import NotFoundError
from groundcode.state import ReviewMark, review_mark
from groundcode.storage.database import transaction
from groundcode.storage.tables import DecisionRow, ReviewHeadRow, ReviewMarkRow
from groundcode.storage.work_items import insert_if_absent

CODEBOOK_KEY = "codebook"


class VersionConflict(RuntimeError):
    """The review (or memo) changed since the researcher loaded it; reload and decide again."""

    def __init__(self, key: str, expected: int, current: int, *, what: str = "review") -> None:
        super().__init__(
            f"this {what} changed since you loaded it (version {current}, you had {expected}); reload it"
        )
        self.key = key
        self.current = current


def review_key(decision: Decision) -> str:
    """Which versioned review a decision belongs to: its segment's, else the codebook's (merges)."""
    return decision.segment_id or CODEBOOK_KEY


class DecisionStore:
    """Appends and reads decisions; each public method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(
        self,
        decisions: Sequence[Decision],
        *,
        expected_version: int | None = None,
        follow_up: Stage | None = None,
    ) -> dict[tuple[str, str], int]:
        """Append the decisions atomically and return the new version of each ``(coder, review)`` they touch.

        With ``expected_version``, every touched review must be at that version (a single-segment action);
        without it the decisions are applied on top of whatever is there (bulk and imports). ``follow_up``
        creates a work item of that stage per decision in the same transaction, so no decision can be
        stored without the work that learns from it (the sweeper publishes it if the message is lost)."""
        seen: dict[tuple[str, str], int] = {}  # (coder, review) -> version after this call's decisions
        with transaction(self._sessions) as session:
            for decision in decisions:
                head = (decision.coder_id, review_key(decision))
                seen[head] = _advance(session, *head, seen.get(head, expected_version))
                session.execute(insert(DecisionRow).values(**decision.model_dump()))
                if follow_up is not None:
                    insert_if_absent(session, follow_up, decision.id)
            touched = {(d.project_id, d.coder_id, d.segment_id) for d in decisions if d.segment_id}
            for project_id, coder_id, segment_id in sorted(touched):
                _refresh_mark(session, project_id, coder_id, segment_id)
        return seen

    def review_marks(self, project_id: str, coder_id: str) -> dict[str, ReviewMark]:
        """Segment -> where the coder's review of it stands, for the segments reviewed or skipped."""
        query = select(ReviewMarkRow.segment_id, ReviewMarkRow.mark).where(
            ReviewMarkRow.project_id == project_id, ReviewMarkRow.coder_id == coder_id
        )
        with self._sessions() as session:
            return {segment_id: _mark(mark) for segment_id, mark in session.execute(query)}

    def last_undoable(self, project_id: str, coder_id: str) -> Decision | None:
        """The coder's most recent decision that is not an undo and not undone yet (what ``undo`` cancels:
        an undo itself is never undone, the next one back is), with one indexed query."""
        undo = aliased(DecisionRow)
        query = (
            select(DecisionRow)
            .where(
                DecisionRow.project_id == project_id,
                DecisionRow.coder_id == coder_id,
                DecisionRow.kind != DecisionKind.UNDO.value,
                ~exists().where(undo.undoes == DecisionRow.id),
            )
            .order_by(DecisionRow.seq.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalar(query)
            return _decision(row) if row is not None else None

    def get(self, decision_id: str) -> Decision:
        with self._sessions() as session:
            row = session.scalar(select(DecisionRow).where(DecisionRow.id == decision_id))
            if row is None:
                raise NotFoundError(f"no decision with id {decision_id!r}")
            return _decision(row)

    def list(
        self,
        project_id: str,
        *,
        coder_ids: Collection[str] | None = None,
        segment_ids: Collection[str] | None = None,
    ) -> list[Decision]:
        """The project's decisions in the order they were made, optionally only of some coders, or only on
        some segments (project-wide decisions, merges and their undos, are always included)."""
        query = select(DecisionRow).where(DecisionRow.project_id == project_id)
        if coder_ids is not None:
            query = query.where(DecisionRow.coder_id.in_(coder_ids))
        if segment_ids is not None:
            query = query.where(
                or_(DecisionRow.segment_id.in_(segment_ids), DecisionRow.segment_id.is_(None))
            )
        with self._sessions() as session:
            return [_decision(row) for row in session.scalars(query.order_by(DecisionRow.seq))]

    def segments_decided(self, project_id: str, coder_id: str, kinds: Collection[DecisionKind]) -> int:
        """How many segments the coder has made a decision of one of these kinds on (undone ones included):
        one counting query, where folding the coder's whole log grows with the project's history."""
        query = select(func.count(distinct(DecisionRow.segment_id))).where(
            DecisionRow.project_id == project_id,
            DecisionRow.coder_id == coder_id,
            DecisionRow.kind.in_([kind.value for kind in kinds]),
        )
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def versions(self, coder_id: str, keys: Collection[str]) -> dict[str, int]:
        """The coder's current review versions (0 for a review without decisions)."""
        query = select(ReviewHeadRow.key, ReviewHeadRow.version).where(
            ReviewHeadRow.coder_id == coder_id, ReviewHeadRow.key.in_(keys)
        )
        with self._sessions() as session:
            found = {key: version for key, version in session.execute(query)}
        return {key: found.get(key, 0) for key in keys}


def _advance(session: Session, coder_id: str, key: str, expected: int | None) -> int:
    """Move the review to its next version, if it is at ``expected`` (any version when ``None``).

    One conditional UPDATE, so two requests racing on the same review cannot both win (SQLite serialises
    writers; PostgreSQL re-checks the condition after the row lock is released)."""
    condition = [ReviewHeadRow.coder_id == coder_id, ReviewHeadRow.key == key]
    if expected is not None:
        condition.append(ReviewHeadRow.version == expected)
    updated = session.execute(
        update(ReviewHeadRow)
        .where(*condition)
        .values(version=ReviewHeadRow.version + 1)
        .returning(ReviewHeadRow.version)
    ).scalar_one_or_none()
    if updated is not None:
        return int(updated)
    current = session.scalar(
        select(ReviewHeadRow.version).where(ReviewHeadRow.coder_id == coder_id, ReviewHeadRow.key == key)
    )
    if current is not None or expected not in (None, 0):
        raise VersionConflict(key, expected or 0, current or 0)
    try:
        with session.begin_nested():
            session.add(ReviewHeadRow(coder_id=coder_id, key=key, version=1))
    except IntegrityError as error:  # another request created it first
        raise VersionConflict(key, 0, 1) from error
    return 1


def _refresh_mark(session: Session, project_id: str, coder_id: str, segment_id: str) -> None:
    """Recompute the coder's review mark of the segment from their decisions on it (a handful)."""
    rows = session.scalars(
        select(DecisionRow)
        .where(
            DecisionRow.project_id == project_id,
            DecisionRow.coder_id == coder_id,
            DecisionRow.segment_id == segment_id,
        )
        .order_by(DecisionRow.seq)
    )
    mark = review_mark([_decision(row) for row in rows], coder_id, segment_id)
    key = (
        ReviewMarkRow.project_id == project_id,
        ReviewMarkRow.coder_id == coder_id,
        ReviewMarkRow.segment_id == segment_id,
    )
    session.execute(delete(ReviewMarkRow).where(*key))
    if mark is not None:
        session.execute(
            insert(ReviewMarkRow).values(
                project_id=project_id, coder_id=coder_id, segment_id=segment_id, mark=mark
            )
        )


def _mark(value: str) -> ReviewMark:
    match value:
        case "reviewed" | "skipped":
            return value
    raise ValueError(f"review_marks: unknown mark {value!r}")


def _decision(row: DecisionRow) -> Decision:
    return Decision.model_validate(row, from_attributes=True)
