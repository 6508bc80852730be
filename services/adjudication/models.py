"""What the adjudication API reads and writes: review views and decision requests."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from groundcode.domain import Decision, DecisionKind, Model, RejectReason, Role, SegmentUnit
from groundcode.storage.suggestions import SuggestionFilter
from services.adjudication.ordering import ReviewOrder

ReviewStatus = Literal["todo", "reviewed", "skipped", "all"]
RTL_LANGUAGES = frozenset({"fa", "ar", "he", "ur", "ps", "ckb", "yi"})


class ReviewFilter(SuggestionFilter):
    """Which segments the review queue walks through."""

    status: ReviewStatus = "todo"
    order: ReviewOrder = "source"


class ContextSegment(Model):
    id: str
    position: int
    speaker: str | None
    text: str


class CandidateView(Model):
    """One suggestion as a reviewer sees it, with the code's definition and this coder's decision on it."""

    suggestion_id: str
    mode: str
    rank: int
    code_id: str | None
    code_name: str
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    color: str | None = None
    merged_into: str | None = None
    confidence: float
    rationale: str
    quote_start: int | None
    quote_end: int | None
    quote_match: str | None
    backend: str
    model: str | None
    prompt_version: str | None
    weaker_than_llm: bool = False
    applies: bool = False  # the backend predicts this code applies (its best guess at the coding)
    my_decision: DecisionKind | None = None
    my_reason: str | None = None


class CodingView(Model):
    coder: str
    code_id: str
    code_name: str
    start: int
    end: int
    text: str
    decision_id: str
    suggestion_id: str | None
    decided_at: datetime


class SegmentView(Model):
    """A segment under review: its text in context, its candidates, and the codings visible to the reader."""

    project: str
    segment_id: str
    source_id: str
    source_name: str
    language: str | None
    direction: Literal["ltr", "rtl"]
    position: int
    unit: SegmentUnit
    start: int
    end: int
    speaker: str | None
    text: str
    before: list[ContextSegment]
    after: list[ContextSegment]
    candidates: list[CandidateView]
    codings: list[CodingView]
    version: int
    reviewed: bool
    skipped: bool
    no_code: bool = Field(description="You marked that no code of the codebook applies here.")
    queue_index: int | None = Field(description="Position of this segment in the filtered queue (1-based).")
    queue_length: int
    previous_segment_id: str | None
    next_segment_id: str | None


class _Versioned(Model):
    version: int = Field(ge=0, description="The review version the decision was made on (from the view).")


class AcceptRequest(_Versioned):
    action: Literal["accept"] = "accept"
    suggestion_ids: list[str] = Field(min_length=1, description="One or several candidates of one segment.")
    start: int | None = Field(default=None, ge=0, description="Adjusted span (one candidate only).")
    end: int | None = None


class RejectRequest(_Versioned):
    action: Literal["reject"] = "reject"
    suggestion_id: str
    reason: RejectReason
    note: str = Field(default="", max_length=2000)


class EditRequest(_Versioned):
    """Replace a suggestion by a coding of another code and/or another span."""

    action: Literal["edit"] = "edit"
    suggestion_id: str
    code_id: str
    start: int = Field(ge=0)
    end: int

    @model_validator(mode="after")
    def _span(self) -> EditRequest:
        if self.end <= self.start:
            raise ValueError("the span is empty")
        return self


class CreateCodeRequest(_Versioned):
    """Turn an inductive proposal into a codebook code (with a definition) and a coding of it."""

    action: Literal["create_code"] = "create_code"
    suggestion_id: str
    name: str = Field(min_length=1, max_length=200)
    definition: str = Field(default="", max_length=5000)
    parent_id: str | None = None


class CodeRequest(_Versioned):
    """Code a span by hand, without a suggestion."""

    action: Literal["code"] = "code"
    segment_id: str
    code_id: str
    start: int = Field(ge=0)
    end: int


class SkipRequest(_Versioned):
    action: Literal["skip"] = "skip"
    segment_id: str


class NoCodeRequest(_Versioned):
    """None of the codebook's codes applies to the segment (only while you have no codings on it)."""

    action: Literal["no_code"] = "no_code"
    segment_id: str


class RemoveRequest(_Versioned):
    """Take one of your codings off (by the id of the decision that made it, ``decision_id`` of a coding):
    an appended decision, so ``undo`` puts it back."""

    action: Literal["remove"] = "remove"
    decision_id: str


DecideRequest = Annotated[
    AcceptRequest
    | RejectRequest
    | EditRequest
    | CreateCodeRequest
    | CodeRequest
    | SkipRequest
    | NoCodeRequest
    | RemoveRequest,
    Field(discriminator="action"),
]


class MergeRequest(Model):
    code_id: str = Field(description="The code that stays.")
    merged_code_id: str = Field(description="The code folded into it (it leaves the codebook).")


class DecisionResult(Model):
    decisions: list[Decision]
    version: int = Field(description="The segment's review version after the decisions.")


class UndoResult(Model):
    undone: Decision | None = Field(description="The decision cancelled (null: nothing left to undo).")
    undo: Decision | None = Field(description="The undo decision appended.")
    version: int | None


class BulkRequest(Model):
    code_id: str
    min_confidence: float = Field(ge=0.0, le=1.0)
    source_id: str | None = None


class BulkAcceptRequest(BulkRequest):
    suggestion_ids: list[str] = Field(
        min_length=1, description="The previewed suggestions; only those still qualifying are accepted."
    )


class BulkItem(Model):
    suggestion_id: str
    segment_id: str
    source_name: str
    confidence: float
    text: str


class BulkPreview(Model):
    code_id: str
    code_name: str
    min_confidence: float
    items: list[BulkItem]


class SourceProgress(Model):
    source_id: str
    source_name: str
    segments: int = Field(description="Segments with suggestions.")
    reviewed: int
    skipped: int
    remaining: int


class CodeCount(Model):
    code_id: str
    name: str
    definition: str
    parent_id: str | None
    color: str | None
    display_color: str = Field(description="The colour shown: its own, else a palette colour of its own.")
    codings: int = Field(description="Accepted codings visible to you.")
    suggestions: int
    approved: bool = Field(
        description="False: a coder's new code, shown to the others once an owner approves."
    )


class Me(Model):
    username: str
    display_name: str
    projects: dict[str, Role]


class CodingFilter(Model):
    """Which codings to retrieve (any, where a field is not given)."""

    code: str | None = Field(default=None, description="A code's id or name: its codings and its sub-codes'.")
    coder: str | None = Field(default=None, description="A coder's username.")
    source: str | None = Field(default=None, description="A source's name or id.")
    since: date | None = Field(default=None, description="Coded on or after this day (UTC).")
    until: date | None = Field(default=None, description="Coded on or before this day (UTC).")

    @model_validator(mode="after")
    def _days_in_order(self) -> Self:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self


class CodingRow(Model):
    """A coding for listing and CSV export."""

    source: str
    speaker: str | None
    start: int
    end: int
    text: str
    code: str
    code_id: str
    coder: str
    decided_at: datetime
    suggestion_id: str | None
    backend: str | None
    model: str | None
    decision_id: str  # the coding's id: the decision that made it (what a coding memo is about)
