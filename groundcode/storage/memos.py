"""The memo store: every version of every memo, appended and never changed (the newest one is the memo)."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import Memo, MemoKind
from groundcode.errors import NotFoundError
from groundcode.storage.database import transaction
from groundcode.storage.decisions import VersionConflict
from groundcode.storage.tables import MemoRow


class MemoStore:
    """Appends and reads memo versions; each public method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def append(self, memo: Memo) -> Memo:
        """Store ``memo`` as its memo's next version. Refused with ``VersionConflict`` if another version
        was stored since the writer loaded it (``memo.version`` is not the newest + 1), so that no edit
        silently overwrites another."""
        try:
            with transaction(self._sessions) as session:
                current = _newest_version(session, memo.memo_id)
                if memo.version != current + 1:
                    raise VersionConflict(memo.memo_id, memo.version - 1, current, what="memo")
                session.execute(insert(MemoRow).values(**memo.model_dump()))
        except IntegrityError as error:  # a concurrent writer stored the same version first
            raise VersionConflict(memo.memo_id, memo.version - 1, memo.version, what="memo") from error
        return memo

    def get(self, memo_id: str) -> Memo:
        """The memo's newest version (a deleted memo too: its history stays readable)."""
        with self._sessions() as session:
            row = session.scalar(
                select(MemoRow).where(MemoRow.memo_id == memo_id).order_by(MemoRow.version.desc()).limit(1)
            )
            if row is None:
                raise NotFoundError(f"no memo with id {memo_id!r}")
            return _memo(row)

    def find(self, memo_id: str) -> Memo | None:
        """The memo's newest version, or None if it was never written."""
        try:
            return self.get(memo_id)
        except NotFoundError:
            return None

    def history(self, memo_id: str) -> list[Memo]:
        """Every version of the memo, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(MemoRow).where(MemoRow.memo_id == memo_id).order_by(MemoRow.version)
            )
            return [_memo(row) for row in rows]

    def current(self, project_id: str, kind: MemoKind | None = None) -> list[Memo]:
        """The project's memos as they stand (newest version of each, deleted ones left out), in the order
        they were first written."""
        return [memo for memo in self.newest(project_id, kind) if not memo.deleted]

    def newest(self, project_id: str, kind: MemoKind | None = None) -> list[Memo]:
        """The newest version of each of the project's memos, deleted ones too, in the order they were
        first written."""
        newest = (
            select(
                MemoRow.memo_id,
                func.max(MemoRow.version).label("version"),
                func.min(MemoRow.seq).label("first"),
            )
            .where(MemoRow.project_id == project_id)
            .group_by(MemoRow.memo_id)
            .subquery()
        )
        query = (
            select(MemoRow)
            .join(newest, (MemoRow.memo_id == newest.c.memo_id) & (MemoRow.version == newest.c.version))
            .order_by(newest.c.first)
        )
        if kind is not None:
            query = query.where(MemoRow.kind == kind.value)
        with self._sessions() as session:
            return [_memo(row) for row in session.scalars(query)]


def _newest_version(session: Session, memo_id: str) -> int:
    return session.scalar(select(func.max(MemoRow.version)).where(MemoRow.memo_id == memo_id)) or 0


def _memo(row: MemoRow) -> Memo:
    return Memo(
        memo_id=row.memo_id,
        project_id=row.project_id,
        kind=MemoKind(row.kind),
        subject_id=row.subject_id,
        title=row.title,
        text=row.text,
        version=row.version,
        author_id=row.author_id,
        written_at=row.written_at,
        deleted=row.deleted,
    )
