"""What goes into the suggestion service, what the LLM must answer, and what comes out.

The *answer contract* lives here too: ``response_schema`` builds the JSON schema sent as
``response_format`` and ``parse_answer`` validates a raw reply against it. Both are pure. The model
answers for a batch of segments at once, each under a short label (``S1``, ``S2``, ...):
``{"segments": {"S1": {"none_fits": false, "suggestions": [{"code": ..., ...}]}}}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from groundcode.domain import utcnow
from groundcode.textnorm import normalize_for_matching


class Mode(StrEnum):
    DEDUCTIVE = "deductive"  # choose among codebook candidates
    INDUCTIVE = "inductive"  # propose new code labels


class PromptVariant(StrEnum):
    """How the model is asked (``GROUNDCODE_LLM_PROMPT_VARIANT``); each is a template file in ``prompts/``."""

    REASON_FIRST = "reason_first"  # rationale -> code/label -> quote: reasoning before the label
    LABEL_FIRST = "label_first"  # code/label -> confidence -> rationale -> quote (the former prompt)
    PER_CODE = "per_code"  # deductive: a yes/no decision for every candidate code


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CandidateCode(_Frozen):
    """A codebook entry offered to the model, with its retrieval score (higher is closer)."""

    code_id: str
    name: str = Field(min_length=1)
    definition: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: list[str] = Field(default_factory=list)
    score: float | None = None


class Exemplar(_Frozen):
    """A segment a researcher already coded, shown to the model as an example."""

    text: str
    code_ids: list[str] = Field(default_factory=list)
    code_names: list[str] = Field(default_factory=list)
    score: float | None = None  # similarity to the segment (retrieval); not shown to the model


class FeedbackExample(_Frozen):
    """One of the requesting coder's own decisions, shown to the model: an accepted coding (a positive
    example of the code) or a rejected suggestion with the coder's reason (a negative one)."""

    text: str
    code_name: str
    accepted: bool
    reason: str = ""
    segment_id: str = ""  # never shown: a prompt leaves out the examples of the segments it asks about


class SuggestionRequest(_Frozen):
    """One segment to suggest codes for, with everything the prompt shows about it."""

    segment_id: str
    segment_start: int = Field(ge=0, description="Offset of the segment in its source's text.")
    text: str = Field(min_length=1)
    speaker: str | None = None
    context_before: str = ""
    context_after: str = ""
    language: str | None = None
    mode: Mode = Mode.DEDUCTIVE
    candidates: list[CandidateCode] = Field(default_factory=list)
    exemplars: list[Exemplar] = Field(default_factory=list)
    feedback: list[FeedbackExample] = Field(default_factory=list)
    codebook: list[CandidateCode] = Field(
        default_factory=list,
        description="The whole codebook in its fixed order; offered instead of the candidates when it fits.",
    )
    codebook_id: str | None = None
    codebook_version: int | None = None

    @model_validator(mode="after")
    def _candidates_are_usable(self) -> Self:
        if self.mode is Mode.DEDUCTIVE and not self.candidates:
            raise ValueError("deductive suggestion needs at least one candidate code")
        names = [_name_key(candidate.name) for candidate in self.candidates]
        if len(names) != len(set(names)):
            raise ValueError("candidate code names must be distinct: the model answers with names")
        return self

    def find_candidate(self, code: str) -> CandidateCode | None:
        """The candidate the model meant by ``code``: its id, or its name in the normalised matching
        view (case, spacing, Arabic/Persian letter variants and half-spaces do not matter)."""
        for candidate in self.candidates:
            if code == candidate.code_id or _name_key(code) == _name_key(candidate.name):
                return candidate
        return None


@functools.lru_cache(maxsize=65536)
def _name_key(name: str) -> str:
    """Cached: every request checks its whole codebook's names, so the same few names come back always."""
    return normalize_for_matching(name).strip()


# The structured output the model must return (extra fields are errors, not ignored).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeductiveItem(_Strict):
    rationale: str = Field(min_length=1, max_length=2000)
    code: str = Field(min_length=1)
    quote: str = Field(min_length=1)
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Self-reported; provenance only."
    )


class InductiveItem(_Strict):
    rationale: str = Field(min_length=1, max_length=2000)
    label: str = Field(min_length=1, max_length=80)
    quote: str = Field(min_length=1)
    confidence: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Self-reported; provenance only."
    )


class CodeDecision(_Strict):
    """Per-code mode: one yes/no decision on one candidate code, reasoned first."""

    rationale: str = Field(min_length=1, max_length=2000)
    applies: bool
    quote: str = ""

    @model_validator(mode="after")
    def _quoted_when_applied(self) -> Self:
        if self.applies and not self.quote.strip():
            raise ValueError("a code that applies needs a quote from the segment")
        return self


class PerCodeAnswer(_Strict):
    codes: dict[str, CodeDecision]


class DeductiveAnswer(_Strict):
    none_fits: bool = False
    suggestions: list[DeductiveItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.none_fits and self.suggestions:
            raise ValueError("none_fits is true but suggestions were given")
        return self


class InductiveAnswer(_Strict):
    suggestions: list[InductiveItem] = Field(default_factory=list)


Answer = DeductiveAnswer | InductiveAnswer
A = TypeVar("A", DeductiveAnswer, InductiveAnswer)


class LLMSuggestionOut(_Strict, Generic[A]):
    """The whole reply: one answer per segment label."""

    segments: dict[str, A]


class PerCodeOut(_Strict):
    segments: dict[str, PerCodeAnswer]


_ENVELOPES: dict[Mode, type[LLMSuggestionOut[Any]]] = {
    Mode.DEDUCTIVE: LLMSuggestionOut[DeductiveAnswer],
    Mode.INDUCTIVE: LLMSuggestionOut[InductiveAnswer],
}


def effective_variant(variant: PromptVariant, mode: Mode) -> PromptVariant:
    """The variant used for ``mode``: per-code decisions exist only for codebook codes (deductive)."""
    if variant is PromptVariant.PER_CODE and mode is Mode.INDUCTIVE:
        return PromptVariant.REASON_FIRST
    return variant


class InvalidAnswer(ValueError):
    """A reply that does not follow the contract; the message is written for the model to fix it."""


def response_schema(
    mode: Mode, batch: Mapping[str, SuggestionRequest], variant: PromptVariant = PromptVariant.REASON_FIRST
) -> dict[str, Any]:
    """The JSON schema of a reply for ``batch`` (label -> request).

    Deductive codes are an ``enum`` of each segment's own candidate names, so a server that
    enforces the schema cannot produce a code outside them. Properties are listed in the order the
    model should write them (reason-first puts ``rationale`` before the label: servers that enforce
    the schema generate in that order). Only keywords that OpenAI's strict mode and llama.cpp's
    grammar both understand are used; ranges are checked by ``parse_answer``.
    """
    variant = effective_variant(variant, mode)
    return _object(
        {
            "segments": _object(
                {label: _answer_schema(mode, request, variant) for label, request in batch.items()}
            )
        }
    )


_RATIONALE = {
    "type": "string",
    "description": "Reason first, briefly (1 to 3 sentences): which definition, inclusion or exclusion "
    "criteria the segment meets.",
}
_QUOTE = {"type": "string", "description": "Copied verbatim from the segment, never from its context."}
_CONFIDENCE = {"type": "number", "description": "From 0 to 1."}


def _answer_schema(mode: Mode, request: SuggestionRequest, variant: PromptVariant) -> dict[str, Any]:
    if variant is PromptVariant.PER_CODE:
        decision = _object({"rationale": _RATIONALE, "applies": {"type": "boolean"}, "quote": _QUOTE})
        return _object({"codes": _object({candidate.name: decision for candidate in request.candidates})})
    if mode is Mode.DEDUCTIVE:
        label: dict[str, Any] = {
            "code": {"type": "string", "enum": [candidate.name for candidate in request.candidates]}
        }
    else:
        label = {"label": {"type": "string", "description": "A short new code label, 2 to 5 words."}}
    if variant is PromptVariant.LABEL_FIRST:
        fields = {**label, "confidence": _CONFIDENCE, "rationale": _RATIONALE, "quote": _QUOTE}
    else:
        fields = {"rationale": _RATIONALE, **label, "quote": _QUOTE, "confidence": _CONFIDENCE}
    suggestions = {"suggestions": {"type": "array", "items": _object(fields)}}
    if mode is Mode.DEDUCTIVE:
        return _object({"none_fits": {"type": "boolean"}, **suggestions})
    return _object(suggestions)


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_answer(
    raw: str,
    mode: Mode,
    batch: Mapping[str, SuggestionRequest],
    variant: PromptVariant = PromptVariant.REASON_FIRST,
) -> dict[str, Answer]:
    """Validate a raw reply for ``batch``; raises ``InvalidAnswer`` listing every problem found.

    Beyond the schema: every label must be answered, and a deductive code must name one of that
    segment's candidates (a transcript cannot talk the model into a code we did not offer). A per-code
    reply must decide on every candidate; its codes that apply become the answer's suggestions.
    """
    data = _json(raw)
    per_code = effective_variant(variant, mode) is PromptVariant.PER_CODE
    try:
        if per_code:
            decisions = PerCodeOut.model_validate(data).segments
        else:
            answers: dict[str, Answer] = _ENVELOPES[mode].model_validate(data).segments
    except ValidationError as error:
        raise InvalidAnswer(_describe(error)) from error
    labels = decisions if per_code else answers
    problems = [f"segments.{label}: missing" for label in batch if label not in labels]
    problems += [f"segments.{label}: there is no such segment" for label in labels if label not in batch]
    if per_code:
        problems += [
            problem
            for label, decided in decisions.items()
            if label in batch
            for problem in _per_code_problems(label, decided, batch[label])
        ]
        answers = {label: _applied(decided) for label, decided in decisions.items()}
    for label, answer in answers.items():
        request = batch.get(label)
        if request is None or not isinstance(answer, DeductiveAnswer):
            continue
        allowed = ", ".join(repr(candidate.name) for candidate in request.candidates)
        problems += [
            f"segments.{label}.suggestions.{index}.code: {item.code!r} is not one of the allowed codes "
            f"for {label} ({allowed})"
            for index, item in enumerate(answer.suggestions)
            if request.find_candidate(item.code) is None
        ]
    if problems:
        raise InvalidAnswer("; ".join(dict.fromkeys(problems)))
    return answers


def _json(raw: str) -> Any:
    text = raw.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidAnswer(f"the reply is not valid JSON ({error})") from error


def _per_code_problems(label: str, decided: PerCodeAnswer, request: SuggestionRequest) -> list[str]:
    answered = {_name_key(name) for name in decided.codes}
    return [
        f"segments.{label}.codes: no decision on {candidate.name!r}"
        for candidate in request.candidates
        if _name_key(candidate.name) not in answered
    ]


def _applied(decided: PerCodeAnswer) -> DeductiveAnswer:
    """The codes decided to apply, as an ordinary deductive answer (in the order decided)."""
    items = [
        DeductiveItem(rationale=decision.rationale, code=name, quote=decision.quote)
        for name, decision in decided.codes.items()
        if decision.applies
    ]
    return DeductiveAnswer(none_fits=not items, suggestions=items)


def _describe(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'reply'}: {problem['msg']}"
        for problem in error.errors()
    )


# The validated result.


QuoteMatch = Literal["exact", "normalized", "fuzzy"]


class SuggestedCode(_Frozen):
    """A grounded suggestion, ready to store: a candidate code (deductive) or a new label (inductive).

    ``quote_start``/``quote_end`` are offsets into the *source* text (``source.text[start:end]``).
    """

    segment_id: str
    code_id: str | None = None
    proposed_label: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str
    quote_start: int = Field(ge=0)
    quote_end: int
    quote_match: QuoteMatch
    provenance: dict[str, Any]
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.code_id is None) == (self.proposed_label is None):
            raise ValueError("a suggestion has either a code_id or a proposed_label")
        if self.quote_end <= self.quote_start:
            raise ValueError("the quote span is empty")
        return self


class SegmentSuggestions(_Frozen):
    """Everything suggested for one segment, best first, plus what was thrown away and why.

    ``failure`` says why a segment got no usable answer (it failed alone; the others are kept)."""

    segment_id: str
    suggestions: list[SuggestedCode]
    none_fits: bool = False
    dropped: dict[str, int] = Field(default_factory=dict)
    cache_hit: bool = False
    failure: str | None = None


class CallRecord(_Frozen):
    """One answered LLM exchange (retries and re-asks included), shared by every segment of its batch."""

    resolved_model: str
    usage: dict[str, int]
    cost_usd: float | None
    latency_ms: float
    http_calls: int
    reasks: int
    batch_size: int
    answered_at: datetime
    samples: int = 1


class CachedAnswer(_Frozen):
    """A validated answer for one segment as the response cache keeps it."""

    segment_id: str
    model: str
    mode: Mode
    answer: dict[str, Any]
    call: CallRecord
    agreement: dict[str, float] | None = Field(
        default=None, description="Per code id or label: the share of samples that suggested it."
    )

    def parsed(self) -> Answer:
        if self.mode is Mode.DEDUCTIVE:
            return DeductiveAnswer.model_validate(self.answer)
        return InductiveAnswer.model_validate(self.answer)
