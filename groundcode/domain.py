"""The domain model: plain pydantic types shared by every service. No I/O here.

Offsets everywhere are 0-based Unicode code points into ``Source.text``, end exclusive,
so that ``source.text[segment.start:segment.end] == segment.text`` always holds.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


def new_id() -> str:
    """A fresh random identifier (UUID4, hex with dashes)."""
    return str(uuid.uuid4())


def derived_id(*parts: str) -> str:
    """A stable identifier derived from immutable parts (UUID5), so re-runs produce the same id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "groundcode:" + "\x1f".join(parts)))


def content_hash(data: bytes | str) -> str:
    """SHA-256 hex digest, used to detect re-imports and unchanged content."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Project(Model):
    id: str = Field(default_factory=new_id)
    name: str = Field(min_length=1)
    created_at: datetime = Field(default_factory=utcnow)


class SegmentUnit(StrEnum):
    SENTENCE = "sentence"
    TURN = "turn"
    PARAGRAPH = "paragraph"
    WINDOW = "window"
    RESPONSE = "response"  # one answer of a survey CSV


class Source(Model):
    """One imported document (a transcript or a set of survey answers)."""

    id: str = Field(default_factory=new_id)
    project_id: str
    name: str = Field(min_length=1)
    format: str
    language: str | None = None
    text: str
    content_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    imported_at: datetime = Field(default_factory=utcnow)


class Segment(Model):
    """A unit of analysis: a span of a source's text."""

    id: str
    source_id: str
    position: int = Field(ge=0)
    start: int = Field(ge=0)
    end: int
    text: str
    unit: SegmentUnit
    speaker: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _span_matches_text(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"segment end {self.end} must be after start {self.start}")
        if self.end - self.start != len(self.text):
            raise ValueError("segment text length does not match its offsets")
        return self


class Code(Model):
    """A codebook entry, written the way a human coder reads it."""

    id: str = Field(default_factory=new_id)
    name: str = Field(min_length=1)
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: list[str] = Field(default_factory=list)
    parent_id: str | None = None
    color: str | None = None


class Codebook(Model):
    """A named, versioned set of codes; every edit creates a new version."""

    id: str = Field(default_factory=new_id)
    project_id: str
    name: str = Field(min_length=1)
    version: int = Field(default=1, ge=1)
    codes: list[Code] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _hierarchy_is_consistent(self) -> Self:
        ids = [code.id for code in self.codes]
        if len(ids) != len(set(ids)):
            raise ValueError("codebook has duplicate code ids")
        known = set(ids)
        for code in self.codes:
            if code.parent_id is not None and code.parent_id not in known:
                raise ValueError(f"code {code.name!r} names an unknown parent {code.parent_id!r}")
        return self


class Stage(StrEnum):
    """Pipeline stages, in order. Each stage is a queue topic."""

    CHUNK = "chunk"  # subject: a source id
    INDEX = "index"  # subject: a source id (its segments are embedded)
    INDEX_CODEBOOK = "index-codebook"  # subject: a codebook (version) id


class WorkStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class WorkItem(Model):
    """One unit of stage work. The database row is the truth; queue messages carry only its id."""

    id: str = Field(default_factory=new_id)
    stage: Stage
    subject_id: str
    idempotency_key: str
    status: WorkStatus = WorkStatus.PENDING
    attempts: int = 0
    lease_expires_at: datetime | None = None
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Suggestion(Model):
    """A candidate code proposed for a segment (filled in by the suggestion service)."""

    id: str = Field(default_factory=new_id)
    segment_id: str
    code_id: str | None
    proposed_label: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""
    quote_start: int | None = None
    quote_end: int | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class DecisionKind(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    EDIT = "edit"
    MERGE = "merge"


class Decision(Model):
    """A researcher's append-only verdict on a suggestion (filled in by the adjudication service)."""

    id: str = Field(default_factory=new_id)
    suggestion_id: str
    coder: str
    kind: DecisionKind
    code_id: str | None = None
    reason: str | None = None
    start: int | None = None
    end: int | None = None
    decided_at: datetime = Field(default_factory=utcnow)
