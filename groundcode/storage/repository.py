"""The repository: projects, sources, segments and codebooks in and out of the database as domain models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from groundcode.coding_scope import CodingScope
from groundcode.domain import Code, Codebook, Project, Segment, Source
from groundcode.errors import CodebookRaceError, NotFoundError, UnknownProjectError
from groundcode.storage.database import transaction
from groundcode.storage.tables import (
    CodebookRow,
    CodeRow,
    ProjectRow,
    ProjectSettingsRow,
    SegmentRow,
    SourceRow,
)

ModelT = TypeVar("ModelT", Source, Segment)


class Repository:
    """All reads and writes of the core entities; each public method is one transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    # Projects

    def ensure_project(self, name: str) -> Project:
        """The project called ``name``, created on first use (safe when two processes race)."""
        existing = self.find_project(name)
        if existing is not None:
            return existing
        project = Project(name=name)
        try:
            with transaction(self._sessions) as session:
                session.add(ProjectRow(**project.model_dump()))
        except IntegrityError:
            return self.get_project(name)
        return project

    def find_project(self, name: str) -> Project | None:
        with self._sessions() as session:
            row = session.scalar(select(ProjectRow).where(ProjectRow.name == name))
            return Project.model_validate(row, from_attributes=True) if row else None

    def check_import_target(self, name: str, *, create: bool) -> None:
        """Refuse an import into a project that does not exist (``UnknownProjectError``, naming the projects
        there are: such a name is most often mistyped), unless ``create`` or there is no project yet."""
        if create or self.find_project(name) is not None:
            return
        known = [project.name for project in self.list_projects()]
        if known:
            raise UnknownProjectError(name, known)

    def get_project(self, name: str) -> Project:
        project = self.find_project(name)
        if project is None:
            raise UnknownProjectError(name, [known.name for known in self.list_projects()])
        return project

    def project_by_id(self, project_id: str) -> Project:
        with self._sessions() as session:
            row = session.get(ProjectRow, project_id)
            if row is None:
                raise NotFoundError(f"no project with id {project_id!r}")
            return Project.model_validate(row, from_attributes=True)

    def list_projects(self) -> list[Project]:
        with self._sessions() as session:
            rows = session.scalars(select(ProjectRow).order_by(ProjectRow.created_at))
            return [Project.model_validate(row, from_attributes=True) for row in rows]

    def coding_scope(self, project_id: str) -> CodingScope:
        """Which speakers the project codes (the default rule until an owner sets one)."""
        with self._sessions() as session:
            row = session.get(ProjectSettingsRow, project_id)
            return CodingScope.model_validate(row.coding_scope) if row else CodingScope()

    def set_coding_scope(self, project_id: str, scope: CodingScope) -> None:
        with transaction(self._sessions) as session:
            session.merge(ProjectSettingsRow(project_id=project_id, coding_scope=scope.model_dump()))

    # Sources

    def add_source(self, source: Source) -> tuple[Source, bool]:
        """Store a new source; if the same content is already in the project, return that one instead.

        Returns ``(stored_source, created)``.
        """
        existing = self.find_source_by_hash(source.project_id, source.content_hash)
        if existing is not None:
            return existing, False
        try:
            with transaction(self._sessions) as session:
                session.add(_source_row(source))
        except IntegrityError:
            duplicate = self.find_source_by_hash(source.project_id, source.content_hash)
            if duplicate is None:
                raise
            return duplicate, False
        return source, True

    def find_source_by_hash(self, project_id: str, content_hash: str) -> Source | None:
        with self._sessions() as session:
            row = session.scalar(
                select(SourceRow).where(
                    SourceRow.project_id == project_id, SourceRow.content_hash == content_hash
                )
            )
            return _source(row) if row else None

    def get_source(self, source_id: str) -> Source:
        with self._sessions() as session:
            row = session.get(SourceRow, source_id)
            if row is None:
                raise NotFoundError(f"no source with id {source_id!r}")
            return _source(row)

    def find_source(self, project_id: str, name_or_id: str) -> Source:
        """A source of the project by id, exact name, or unique id prefix."""
        with self._sessions() as session:
            rows = session.scalars(
                select(SourceRow).where(
                    SourceRow.project_id == project_id,
                    (SourceRow.id == name_or_id)
                    | (SourceRow.name == name_or_id)
                    | SourceRow.id.startswith(name_or_id),
                )
            ).all()
        exact = [row for row in rows if name_or_id in (row.id, row.name)]
        matches = exact or rows
        if len(matches) != 1:
            problem = "no source" if not matches else f"{len(matches)} sources"
            raise NotFoundError(f"{problem} named or identified by {name_or_id!r} in this project")
        return _source(matches[0])

    def list_sources(self, project_id: str) -> list[Source]:
        with self._sessions() as session:
            rows = session.scalars(
                select(SourceRow).where(SourceRow.project_id == project_id).order_by(SourceRow.imported_at)
            )
            return [_source(row) for row in rows]

    # Segments

    def replace_segments(self, source_id: str, segments: Sequence[Segment]) -> None:
        """Make ``segments`` the source's segments, atomically. Running it twice changes nothing."""
        with transaction(self._sessions) as session:
            session.execute(delete(SegmentRow).where(SegmentRow.source_id == source_id))
            session.add_all(_segment_row(segment) for segment in segments)

    def list_segments(self, source_id: str, *, offset: int = 0, limit: int | None = None) -> list[Segment]:
        with self._sessions() as session:
            query = (
                select(SegmentRow)
                .where(SegmentRow.source_id == source_id)
                .order_by(SegmentRow.position)
                .offset(offset)
                .limit(limit)
            )
            return [_segment(row) for row in session.scalars(query)]

    def get_segments(self, segment_ids: Sequence[str]) -> dict[str, Segment]:
        """The segments with these ids (unknown ids are left out)."""
        with self._sessions() as session:
            rows = session.scalars(select(SegmentRow).where(SegmentRow.id.in_(segment_ids)))
            return {row.id: _segment(row) for row in rows}

    def get_segment(self, segment_id: str) -> Segment:
        segment = self.get_segments([segment_id]).get(segment_id)
        if segment is None:
            raise NotFoundError(f"no segment with id {segment_id!r}")
        return segment

    def segment_counts(self, project_id: str) -> dict[str, int]:
        """Number of segments per source id (sources without segments are absent)."""
        with self._sessions() as session:
            rows = session.execute(
                select(SegmentRow.source_id, func.count())
                .join(SourceRow, SourceRow.id == SegmentRow.source_id)
                .where(SourceRow.project_id == project_id)
                .group_by(SegmentRow.source_id)
            )
            return {source_id: count for source_id, count in rows}

    # Codebooks

    def save_codebook(self, project_id: str, name: str, codes: Sequence[Code]) -> tuple[Codebook, bool]:
        """Store ``codes`` as the newest version of the named codebook.

        An unchanged codebook is not stored again. Returns ``(codebook, new_version_created)``.
        """
        latest = self.latest_codebook(project_id, name)
        if latest is not None and list(latest.codes) == list(codes):
            return latest, False
        codebook = Codebook(
            project_id=project_id, name=name, version=(latest.version + 1 if latest else 1), codes=list(codes)
        )
        try:
            self._insert_codebook(codebook)
        except IntegrityError as error:  # uq_codebooks_version: a concurrent save took this version
            raise CodebookRaceError(
                f"codebook {name!r} version {codebook.version} was saved by another edit just now; reload it"
            ) from error
        return codebook, True

    def _insert_codebook(self, codebook: Codebook) -> None:
        with transaction(self._sessions) as session:
            session.add(
                CodebookRow(
                    id=codebook.id,
                    project_id=codebook.project_id,
                    name=codebook.name,
                    version=codebook.version,
                    created_at=codebook.created_at,
                )
            )
            session.flush()  # no ORM relationship is declared, so insert the parent row first explicitly
            session.add_all(
                CodeRow(codebook_id=codebook.id, position=position, **code.model_dump())
                for position, code in enumerate(codebook.codes)
            )

    def get_codebook(self, codebook_id: str) -> Codebook:
        """One stored codebook version by id."""
        with self._sessions() as session:
            row = session.get(CodebookRow, codebook_id)
            if row is None:
                raise NotFoundError(f"no codebook with id {codebook_id!r}")
            return _codebook(session, row)

    def code_index(self, project_id: str) -> dict[str, Code]:
        """Every code any codebook version of the project ever had, by id (the newest version's wording),
        so that codings and suggestions of codes since merged away still have a name."""
        query = (
            select(CodeRow)
            .join(CodebookRow, CodebookRow.id == CodeRow.codebook_id)
            .where(CodebookRow.project_id == project_id)
            .order_by(CodebookRow.created_at, CodebookRow.version)
        )
        with self._sessions() as session:
            return {row.id: Code.model_validate(row, from_attributes=True) for row in session.scalars(query)}

    def latest_codebook(self, project_id: str, name: str | None = None) -> Codebook | None:
        """The newest version of the named codebook (or of the most recently saved one)."""
        with self._sessions() as session:
            query = select(CodebookRow).where(CodebookRow.project_id == project_id)
            if name is not None:
                query = query.where(CodebookRow.name == name)
            row = session.scalar(query.order_by(CodebookRow.created_at.desc(), CodebookRow.version.desc()))
            if row is None:
                return None
            return _codebook(session, row)


def _codebook(session: Session, row: CodebookRow) -> Codebook:
    code_rows = session.scalars(
        select(CodeRow).where(CodeRow.codebook_id == row.id).order_by(CodeRow.position)
    )
    return Codebook(
        id=row.id,
        project_id=row.project_id,
        name=row.name,
        version=row.version,
        codes=[Code.model_validate(code_row, from_attributes=True) for code_row in code_rows],
        created_at=row.created_at,
    )


def _row_values(model: Source | Segment) -> dict[str, Any]:
    # The ORM attribute is ``metadata_`` because ``metadata`` is reserved on declarative classes.
    values = model.model_dump()
    values["metadata_"] = values.pop("metadata")
    return values


def _source_row(source: Source) -> SourceRow:
    return SourceRow(**_row_values(source))


def _segment_row(segment: Segment) -> SegmentRow:
    return SegmentRow(**_row_values(segment))


def _from_row(model_type: type[ModelT], row: SourceRow | SegmentRow) -> ModelT:
    values = {column.key: getattr(row, column.key) for column in row.__mapper__.column_attrs}
    values["metadata"] = values.pop("metadata_")
    return model_type.model_validate(values)


def _source(row: SourceRow) -> Source:
    return _from_row(Source, row)


def _segment(row: SegmentRow) -> Segment:
    return _from_row(Segment, row)
