"""SQLAlchemy table definitions. Schema changes go through an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone, so we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: UTCDateTime(),
    }


class ProjectRow(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    blind: Mapped[bool] = mapped_column(Boolean, default=True)
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)


class SourceRow(Base):
    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("project_id", "content_hash", name="uq_sources_project_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    imported_at: Mapped[datetime]


class SegmentRow(Base):
    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("source_id", "unit", "start", "end", name="uq_segments_span"),
        Index("ix_segments_source_position", "source_id", "position"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(20))
    speaker: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")


class CodebookRow(Base):
    __tablename__ = "codebooks"
    __table_args__ = (UniqueConstraint("project_id", "name", "version", name="uq_codebooks_version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class CodeRow(Base):
    __tablename__ = "codes"

    codebook_id: Mapped[str] = mapped_column(ForeignKey("codebooks.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(500))
    definition: Mapped[str] = mapped_column(Text)
    inclusion: Mapped[str] = mapped_column(Text)
    exclusion: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[str]]
    parent_id: Mapped[str | None] = mapped_column(String(36))
    color: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str | None] = mapped_column(String(36))
    approved: Mapped[bool] = mapped_column(Boolean, server_default=true())


class WorkItemRow(Base):
    __tablename__ = "work_items"
    __table_args__ = (Index("ix_work_items_stage_status", "stage", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    stage: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(36), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LLMCacheRow(Base):
    """A validated LLM answer for one segment, so a redelivered work item never pays for it twice."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    segment_id: Mapped[str] = mapped_column(String(36), index=True)
    model: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class SuggestionRow(Base):
    """A suggested code or label for a segment; removed with its segment (a re-chunk suggests again)."""

    __tablename__ = "suggestions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    segment_id: Mapped[str] = mapped_column(ForeignKey("segments.id", ondelete="CASCADE"), index=True)
    code_id: Mapped[str | None] = mapped_column(String(36))
    proposed_label: Mapped[str | None] = mapped_column(String(200))
    confidence: Mapped[float] = mapped_column(Float)
    rationale: Mapped[str] = mapped_column(Text)
    quote_start: Mapped[int | None] = mapped_column(Integer)
    quote_end: Mapped[int | None] = mapped_column(Integer)
    quote_match: Mapped[str | None] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    codebook_id: Mapped[str | None] = mapped_column(String(36))
    codebook_version: Mapped[int | None] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(50))
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    provenance: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    coder_id: Mapped[str | None] = mapped_column(String(36), index=True)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    admin: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # The project whose REFI-QDA import created the account: only that project's imports reuse it unmapped.
    imported_into: Mapped[str | None] = mapped_column(String(36))


class ApiTokenRow(Base):
    """An API or login-session token; only its SHA-256 is stored, so a leaked table grants nothing."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class LoginFailureRow(Base):
    """Failed logins of one account or one address (``key``), for throttling; cleared by a success."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime]


class MembershipRow(Base):
    __tablename__ = "memberships"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


class DecisionRow(Base):
    """One decision, appended and never changed. ``seq`` orders them; segments, sources and suggestions are
    referenced without foreign keys, so re-chunking or re-suggesting never deletes human work."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_project_coder", "project_id", "coder_id", "seq"),
        Index("ix_decisions_undoes", "undoes"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    coder_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[str | None] = mapped_column(String(36), index=True)
    source_id: Mapped[str | None] = mapped_column(String(36), index=True)
    suggestion_id: Mapped[str | None] = mapped_column(String(36))
    code_id: Mapped[str | None] = mapped_column(String(36))
    merged_code_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    start: Mapped[int | None] = mapped_column(Integer)
    end: Mapped[int | None] = mapped_column(Integer)
    undoes: Mapped[str | None] = mapped_column(String(36))
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    codebook_id: Mapped[str | None] = mapped_column(String(36))
    codebook_version: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime]


class ReviewHeadRow(Base):
    """The version of one coder's review of one segment (or of the codebook): a decision names the version
    it saw, and is refused if another decision got there first (optimistic concurrency)."""

    __tablename__ = "review_heads"

    coder_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class ReviewMarkRow(Base):
    """Where one coder's review of one segment stands ("reviewed" or "skipped"; no row: neither), derived
    from the decisions and kept in step with them in the transaction that appends them, so that a review
    page reads it instead of folding the coder's whole decision log."""

    __tablename__ = "review_marks"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    coder_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    segment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    mark: Mapped[str] = mapped_column(String(16))


class ProjectSettingsRow(Base):
    """A project's settings beyond its name and visibility: which speakers are coded (a ``CodingScope``)."""

    __tablename__ = "project_settings"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    coding_scope: Mapped[dict[str, Any]]


class MemoRow(Base):
    """One version of a memo, appended and never changed; the newest version of a memo is the memo (a
    deleted flag on it hides it). ``(memo_id, version)`` is unique: two writers who both saw version n
    cannot both store n + 1."""

    __tablename__ = "memos"
    __table_args__ = (
        UniqueConstraint("memo_id", "version", name="uq_memos_memo_version"),
        Index("ix_memos_project_kind", "project_id", "kind", "subject_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    memo_id: Mapped[str] = mapped_column(String(36))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(String(36))
    title: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str] = mapped_column(String(36))
    written_at: Mapped[datetime]
    deleted: Mapped[bool]
