"""The suggestion store: suggestions in and out of the ``suggestions`` table as domain models."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVarTuple

from pydantic import Field
from sqlalchemy import ColumnElement, Select, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import Model, Suggestion
from groundcode.storage.database import transaction
from groundcode.storage.tables import SegmentRow, SourceRow, SuggestionRow

_Columns = TypeVarTuple("_Columns")


class SuggestionCount(Model):
    """How often one code (or one proposed label) was suggested in a project."""

    code_id: str | None
    proposed_label: str | None
    count: int


class SuggestionFilter(Model):
    """Which suggestions a review queue or a bulk action covers."""

    source_id: str | None = None
    code_id: str | None = None
    min_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    max_confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    mode: str | None = None


class SuggestionStore:
    """Reads and writes suggestions; each public method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def replace_for_segments(
        self,
        segment_ids: Collection[str],
        backend: str,
        suggestions: Sequence[Suggestion],
        *,
        modes: Collection[str] | None = None,
    ) -> None:
        """Make ``suggestions`` the suggestions of ``backend`` for these segments (only of ``modes``, if
        given), in every scope (shared, and each blind coder's own), atomically: running it again with the
        same suggestions changes nothing."""
        if any(s.segment_id not in segment_ids or s.backend != backend for s in suggestions):
            raise ValueError("every suggestion must be for one of the segments and from the backend")
        condition = [SuggestionRow.segment_id.in_(segment_ids), SuggestionRow.backend == backend]
        if modes is not None:
            condition.append(SuggestionRow.mode.in_(modes))
        with transaction(self._sessions) as session:
            session.execute(delete(SuggestionRow).where(*condition))
            if suggestions:  # one executemany, not an ORM object per row
                session.execute(
                    insert(SuggestionRow), [suggestion.model_dump() for suggestion in suggestions]
                )

    def scope_for(self, project_id: str, coder_id: str) -> str | None:
        """The coder's own scope when the project has suggestions learnt from their decisions alone (blind
        coding), else None: the shared suggestions."""
        query = (
            select(SuggestionRow.id)
            .join(SegmentRow, SegmentRow.id == SuggestionRow.segment_id)
            .join(SourceRow, SourceRow.id == SegmentRow.source_id)
            .where(SourceRow.project_id == project_id, SuggestionRow.coder_id == coder_id)
            .limit(1)
        )
        with self._sessions() as session:
            return coder_id if session.scalar(query) is not None else None

    def list_for_segment(self, segment_id: str, *, coder_id: str | None = None) -> list[Suggestion]:
        """The segment's suggestions in one scope (``scope_for``), best first."""
        query = (
            select(SuggestionRow)
            .where(SuggestionRow.segment_id == segment_id, _in_scope(coder_id))
            .order_by(SuggestionRow.mode, SuggestionRow.rank, SuggestionRow.backend)
        )
        with self._sessions() as session:
            return [_suggestion(row) for row in session.scalars(query)]

    def list_for_source(self, source_id: str, *, coder_id: str | None = None) -> list[Suggestion]:
        """The suggestions for every segment of the source in one scope, in segment order, best first."""
        query = (
            select(SuggestionRow)
            .join(SegmentRow, SegmentRow.id == SuggestionRow.segment_id)
            .where(SegmentRow.source_id == source_id, _in_scope(coder_id))
            .order_by(SegmentRow.position, SuggestionRow.mode, SuggestionRow.rank, SuggestionRow.backend)
        )
        with self._sessions() as session:
            return [_suggestion(row) for row in session.scalars(query)]

    def get(self, suggestion_id: str) -> Suggestion | None:
        with self._sessions() as session:
            row = session.get(SuggestionRow, suggestion_id)
            return _suggestion(row) if row else None

    def list_for_segments(
        self, segment_ids: Collection[str], *, coder_id: str | None = None
    ) -> list[Suggestion]:
        """The suggestions of these segments in one scope, best first within each segment."""
        query = (
            select(SuggestionRow)
            .where(SuggestionRow.segment_id.in_(segment_ids), _in_scope(coder_id))
            .order_by(SuggestionRow.segment_id, SuggestionRow.mode, SuggestionRow.rank, SuggestionRow.backend)
        )
        with self._sessions() as session:
            return [_suggestion(row) for row in session.scalars(query)]

    def matching(
        self, project_id: str, where: SuggestionFilter, *, coder_id: str | None = None
    ) -> list[tuple[Suggestion, str]]:
        """``(suggestion, source id)`` of every suggestion in the project and scope that ``where`` covers, in
        source and segment order, best first within a segment."""
        query = _covered(select(SuggestionRow, SegmentRow.source_id), project_id, where, coder_id)
        with self._sessions() as session:
            return [(_suggestion(row), source_id) for row, source_id in session.execute(query)]

    def matching_segment_ids(
        self, project_id: str, where: SuggestionFilter, *, coder_id: str | None = None
    ) -> list[str]:
        """The segments of ``matching``'s suggestions, each once, in the same order. Reads only their ids:
        a review queue needs no suggestion contents, and loading them dominated a review request."""
        query = _covered(select(SuggestionRow.segment_id), project_id, where, coder_id)
        with self._sessions() as session:
            return list(dict.fromkeys(session.scalars(query)))

    def summary(
        self, project_id: str, *, exclude_source_id: str | None = None, coder_id: str | None = None
    ) -> list[SuggestionCount]:
        """Suggestions per code and per proposed label across the project in one scope (leaving one source
        out, if given), most frequent first."""
        count = func.count().label("count")
        query = (
            select(SuggestionRow.code_id, SuggestionRow.proposed_label, count)
            .join(SegmentRow, SegmentRow.id == SuggestionRow.segment_id)
            .join(SourceRow, SourceRow.id == SegmentRow.source_id)
            .where(
                SourceRow.project_id == project_id,
                SourceRow.id != (exclude_source_id or ""),
                _in_scope(coder_id),
            )
            .group_by(SuggestionRow.code_id, SuggestionRow.proposed_label)
            .order_by(count.desc(), SuggestionRow.code_id, SuggestionRow.proposed_label)
        )
        with self._sessions() as session:
            return [
                SuggestionCount(code_id=code_id, proposed_label=label, count=number)
                for code_id, label, number in session.execute(query)
            ]


def _covered(
    query: Select[*_Columns], project_id: str, where: SuggestionFilter, coder_id: str | None
) -> Select[*_Columns]:
    """``query`` restricted to the project's suggestions in one scope that ``where`` covers, in source and
    segment order, best first within a segment."""
    query = (
        query.join(SegmentRow, SegmentRow.id == SuggestionRow.segment_id)
        .join(SourceRow, SourceRow.id == SegmentRow.source_id)
        .where(
            SourceRow.project_id == project_id,
            SuggestionRow.confidence >= where.min_confidence,
            SuggestionRow.confidence <= where.max_confidence,
            _in_scope(coder_id),
        )
        .order_by(SourceRow.imported_at, SourceRow.name, SegmentRow.position, SuggestionRow.rank)
    )
    if where.source_id is not None:
        query = query.where(SegmentRow.source_id == where.source_id)
    if where.code_id is not None:
        query = query.where(SuggestionRow.code_id == where.code_id)
    if where.mode is not None:
        query = query.where(SuggestionRow.mode == where.mode)
    return query


def _in_scope(coder_id: str | None) -> ColumnElement[bool]:
    """Shared suggestions (None), or one blind coder's own."""
    return SuggestionRow.coder_id.is_(None) if coder_id is None else SuggestionRow.coder_id == coder_id


def _suggestion(row: SuggestionRow) -> Suggestion:
    return Suggestion.model_validate(row, from_attributes=True)
