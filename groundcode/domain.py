"""The domain model: plain pydantic types shared by every service. No I/O here.

Offsets everywhere are 0-based Unicode code points into ``Source.text``, end exclusive,
so that ``source.text[segment.start:segment.end] == segment.text`` always holds.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Self

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
    SUGGEST = "suggest"  # subject: a source id (its segments get candidate codes)


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


SuggestionMode = Literal["deductive", "inductive"]
QuoteMatch = Literal["exact", "normalized", "fuzzy"]


def suggestion_id(
    segment_id: str,
    codebook_version: int | None,
    backend: str,
    model: str | None,
    prompt_version: str | None,
    code_or_label: str,
) -> str:
    """The id of a suggestion: the same run over the same segment and codebook version replaces it."""
    version = "" if codebook_version is None else str(codebook_version)
    return derived_id(
        "suggestion", segment_id, version, backend, model or "", prompt_version or "", code_or_label
    )


class Suggestion(Model):
    """A candidate code (deductive) or a new code label (inductive) proposed for a segment.

    ``quote_start``/``quote_end`` are offsets into the source's text. The id is derived from what
    produced the suggestion, so re-running the same backend on the same segment replaces it.
    """

    id: str = ""
    segment_id: str
    code_id: str | None = None
    proposed_label: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = ""
    quote_start: int | None = Field(default=None, ge=0)
    quote_end: int | None = None
    quote_match: QuoteMatch | None = None
    mode: SuggestionMode
    rank: int = Field(ge=1)
    codebook_id: str | None = None
    codebook_version: int | None = None
    backend: str = Field(min_length=1)
    model: str | None = None
    prompt_version: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _one_kind_and_an_id(self) -> Self:
        if (self.code_id is None) == (self.proposed_label is None):
            raise ValueError("a suggestion has either a code_id or a proposed_label")
        if (self.quote_start is None) != (self.quote_end is None):
            raise ValueError("a quote needs both its start and its end")
        if self.quote_start is not None and self.quote_end is not None and self.quote_end <= self.quote_start:
            raise ValueError("the quote span is empty")
        if not self.id:
            derived = suggestion_id(
                self.segment_id,
                self.codebook_version,
                self.backend,
                self.model,
                self.prompt_version,
                self.code_id or self.proposed_label or "",
            )
            object.__setattr__(self, "id", derived)
        return self


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
