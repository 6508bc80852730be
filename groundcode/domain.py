"""The domain model: plain pydantic types shared by every service. No I/O here.

Offsets everywhere are 0-based Unicode code points into ``Source.text``, end exclusive,
so that ``source.text[segment.start:segment.end] == segment.text`` always holds.
"""

from __future__ import annotations

import hashlib
import re
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
    blind: bool = True  # coders do not see each other's decisions ...
    revealed: bool = False  # ... until an owner reveals them


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


_RGB_COLOR = re.compile(r"#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})")
CODE_PALETTE = (
    "#1F77B4",
    "#FF7F0E",
    "#2CA02C",
    "#D62728",
    "#9467BD",
    "#8C564B",
    "#E377C2",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#AEC7E8",
    "#FFBB78",
    "#98DF8A",
    "#FF9896",
    "#C5B0D5",
    "#C49C94",
    "#F7B6D2",
    "#DBDB8D",
)
"""Colours for codes that have none (matplotlib's tab10 and tab20 light): the pages and the exported files
show the same colour for a code each time, instead of another program drawing a random one at each import."""


def is_rgb_color(value: str) -> bool:
    """Whether ``value`` is a colour pages and REFI-QDA can carry: ``#RGB`` or ``#RRGGBB``."""
    return _RGB_COLOR.fullmatch(value) is not None


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
    created_by: str | None = None  # the coder who created it while reviewing (None: from a codebook file)
    approved: bool = True  # False: a blind coder's new code, hidden from the other coders until approved

    @property
    def display_color(self) -> str:
        """The colour the pages and exports show: the code's own if it is #RGB/#RRGGBB, else a palette
        colour that depends only on its id (so it stays when the code is renamed or moved)."""
        if self.color and is_rgb_color(self.color):
            return self.color
        return CODE_PALETTE[int(derived_id("colour", self.id)[:8], 16) % len(CODE_PALETTE)]


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
    LEARN = "learn"  # subject: a decision id (accepted codings become exemplars)
    RERANK = "rerank"  # subject: "project:coder:milestone" (a coder's answers grew: suggest again)


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
    *coder_id: str,
) -> str:
    """The id of a suggestion: the same run over the same segment and codebook version replaces it (a
    blind coder's own suggestions add the coder)."""
    version = "" if codebook_version is None else str(codebook_version)
    return derived_id(
        "suggestion",
        segment_id,
        version,
        backend,
        model or "",
        prompt_version or "",
        code_or_label,
        *coder_id,
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
    coder_id: str | None = None  # learnt from this blind coder's decisions only, and shown only to them

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
                *([self.coder_id] if self.coder_id else []),
            )
            object.__setattr__(self, "id", derived)
        return self


class Role(StrEnum):
    """What a project member may do: owners also manage members and reveal decisions; viewers only read."""

    OWNER = "owner"
    CODER = "coder"
    VIEWER = "viewer"


class User(Model):
    id: str = Field(default_factory=new_id)
    username: str = Field(min_length=1, max_length=100, pattern=r"^[\w.@+-]+$")
    display_name: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    admin: bool = False  # an instance administrator: may call the operations routes


class Member(Model):
    """A user's role in one project."""

    project_id: str
    user: User
    role: Role


class PermissionDenied(PermissionError):
    """The member's role does not allow this."""


class Access(Model):
    """An authenticated user acting in a project, with their role there."""

    project: Project
    user: User
    role: Role

    def require(self, *roles: Role) -> None:
        """Refuse unless the member has one of ``roles``."""
        if self.role not in roles:
            allowed = " or ".join(role.value for role in roles)
            raise PermissionDenied(
                f"a {self.role.value} cannot do this in project {self.project.name!r} ({allowed} only)"
            )


class DecisionKind(StrEnum):
    """What a researcher did. Every kind is appended; none is ever updated or deleted."""

    ACCEPT = "accept"  # the suggestion becomes a coding (its code, its quote span or an adjusted one)
    REJECT = "reject"  # with a reason
    EDIT = "edit"  # the suggestion is replaced by a coding of another code and/or span
    CREATE_CODE = "create_code"  # an inductive proposal becomes a new codebook code and a coding of it
    CODE = "code"  # a coding made by hand, without a suggestion (or imported)
    SKIP = "skip"  # the segment is put aside for later
    NO_CODE = "no_code"  # the coder reviewed the segment and none of the codebook's codes applies
    MERGE = "merge"  # code ``merged_code_id`` is folded into ``code_id`` in the codebook
    REMOVE = "remove"  # the coder takes one of their codings off (same target: it replaces it; undo restores)
    UNDO = "undo"  # cancels decision ``undoes``


RejectReason = Literal["wrong_code", "too_broad", "too_narrow", "not_relevant", "quote_wrong", "other"]
REJECT_REASONS: dict[str, str] = {
    "wrong_code": "wrong code",
    "too_broad": "code too broad",
    "too_narrow": "code too narrow",
    "not_relevant": "segment not relevant",
    "quote_wrong": "quote wrong",
    "other": "other",
}


class Decision(Model):
    """A researcher's append-only decision. ``suggestion`` is a snapshot of what was decided on (code,
    confidence, backend, model, prompt version, provenance), kept even after the suggestion is replaced."""

    id: str = Field(default_factory=new_id)
    project_id: str
    coder_id: str
    kind: DecisionKind
    segment_id: str | None = None
    source_id: str | None = None
    suggestion_id: str | None = None
    code_id: str | None = None
    merged_code_id: str | None = None
    reason: RejectReason | None = None
    note: str = ""
    start: int | None = Field(default=None, ge=0)
    end: int | None = None
    undoes: str | None = None
    suggestion: dict[str, Any] | None = None
    codebook_id: str | None = None
    codebook_version: int | None = None
    decided_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _complete_for_its_kind(self) -> Self:
        kind = self.kind
        spans = (DecisionKind.ACCEPT, DecisionKind.EDIT, DecisionKind.CREATE_CODE, DecisionKind.CODE)
        if kind in (*spans, DecisionKind.REMOVE):
            if self.code_id is None or self.segment_id is None:
                raise ValueError(f"a {kind.value} decision needs a segment and a code")
            if self.start is None or self.end is None or self.end <= self.start:
                raise ValueError(f"a {kind.value} decision needs a non-empty span")
        on_suggestion = (
            DecisionKind.ACCEPT,
            DecisionKind.EDIT,
            DecisionKind.CREATE_CODE,
            DecisionKind.REJECT,
        )
        if kind in on_suggestion and self.suggestion_id is None:
            raise ValueError(f"a {kind.value} decision is about a suggestion")
        if kind == DecisionKind.REJECT and self.reason is None:
            raise ValueError("a rejection needs a reason")
        if kind in (DecisionKind.SKIP, DecisionKind.NO_CODE) and self.segment_id is None:
            raise ValueError(f"{kind.value} names a segment")
        if kind == DecisionKind.MERGE and (self.code_id is None or self.merged_code_id is None):
            raise ValueError("a merge names the code kept and the code merged into it")
        if kind == DecisionKind.UNDO and self.undoes is None:
            raise ValueError("undo names the decision it cancels")
        return self

    @property
    def target(self) -> str:
        """What later decisions of the same coder replace: the suggestion, else the segment and code."""
        if self.suggestion_id is not None:
            return self.suggestion_id
        if self.kind in (DecisionKind.SKIP, DecisionKind.NO_CODE):
            return f"{self.kind.value}:{self.segment_id}"
        if self.kind == DecisionKind.MERGE:
            return f"merge:{self.merged_code_id}"
        return f"code:{self.segment_id}:{self.code_id}:{self.start}:{self.end}"


class Coding(Model):
    """A code applied to a span by a researcher: derived from the decisions, never stored on its own."""

    coder_id: str
    source_id: str
    segment_id: str
    code_id: str
    start: int
    end: int
    decision_id: str
    suggestion_id: str | None = None
    decided_at: datetime


class MemoKind(StrEnum):
    """What a memo is about. Grounded theory runs on memos: the project's, each document's, each code's
    (how its meaning develops), each coding's (why this span), and a dated reflexive journal."""

    PROJECT = "project"  # one per project
    SOURCE = "source"  # one per source: ``subject_id`` is the source's id
    CODE = "code"  # one per code: ``subject_id`` is the code's id
    CODING = "coding"  # one per coding: ``subject_id`` is the id of the decision that made it
    JOURNAL = "journal"  # any number of dated entries


MEMO_TEXT_LIMIT = 200_000
"""Characters in one memo: a long memo is a few thousand words; this bounds what one request stores."""


class Memo(Model):
    """One version of a memo. Versions are appended, never changed: writing a memo again (or deleting it)
    adds version ``version + 1`` by its author, so a memo's history is kept like the decisions."""

    memo_id: str
    project_id: str
    kind: MemoKind
    subject_id: str | None = None
    title: str = Field(default="", max_length=300)
    text: str = Field(default="", max_length=MEMO_TEXT_LIMIT)
    version: int = Field(ge=1)
    author_id: str
    written_at: datetime = Field(default_factory=utcnow)
    deleted: bool = False

    @model_validator(mode="after")
    def _subject_for_its_kind(self) -> Self:
        needs_subject = self.kind in (MemoKind.SOURCE, MemoKind.CODE, MemoKind.CODING)
        if needs_subject != (self.subject_id is not None):
            raise ValueError(
                f"a {self.kind.value} memo {'is about' if needs_subject else 'has no'} subject "
                "(a source, a code or a coding)"
            )
        return self


def memo_id_of(project_id: str, kind: MemoKind, subject_id: str | None) -> str:
    """The one memo a project, source, code or coding has (a journal entry gets a fresh id instead)."""
    return derived_id("memo", project_id, kind.value, subject_id or "")
