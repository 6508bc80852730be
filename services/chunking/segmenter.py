"""Cut an extracted document into segments (units of analysis) with exact offsets.

Every unit is cut inside speaker turns, so a segment never mixes two speakers. Turns are the
blocks the format gave (docx bold labels, subtitle cues merged per speaker, CSV rows) or else
come from speaker labels found in the text. Inside a turn:

* turn / response: the whole turn (a CSV row is a turn of its respondent);
* paragraph: stretches separated by blank lines;
* sentence: sentences of each paragraph;
* window: fixed-size character windows with overlap, cut at whitespace.

Then segments shorter than ``min_chars`` are merged into the next one in the same turn, and
segments longer than ``max_chars`` are split at sentence, then whitespace, boundaries. Windows
are exempt: ``window_chars`` (capped by ``max_chars``) already sets their size.
Every span is trimmed of surrounding whitespace and never empty.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from groundcode.domain import SegmentUnit
from services.chunking.language import detect_language
from services.chunking.readers import Block, ExtractedDocument
from services.chunking.sentences import cut_point, split_sentences, trim_span
from services.chunking.speakers import compile_speaker_pattern, detect_turns

Span = tuple[int, int]

_BLANK_LINE = re.compile(r"\n[ \t]*\n")


class ChunkOptions(BaseModel):
    """How to cut a document into segments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: SegmentUnit = SegmentUnit.TURN
    window_chars: int = Field(default=1000, ge=1)
    overlap_chars: int = Field(default=200, ge=0)
    min_chars: int = Field(default=0, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    # Extra speaker-label name regexes, tried before the built-in ones and trusted from their
    # first occurrence (see speakers.compile_speaker_pattern).
    speaker_patterns: list[str] | None = None
    # ISO 639-1 code choosing the sentence rules; None: detect from the text.
    language: str | None = None

    @field_validator("speaker_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str] | None) -> list[str] | None:
        for pattern in patterns or []:
            compile_speaker_pattern(pattern)
        return patterns

    @model_validator(mode="after")
    def _sizes_are_consistent(self) -> Self:
        if self.overlap_chars >= self.window_chars:
            raise ValueError("overlap_chars must be smaller than window_chars")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must not be smaller than min_chars")
        return self


class SegmentSpan(BaseModel):
    """One segment: ``doc.text[start:end]``, said by ``speaker``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=0)
    end: int
    unit: SegmentUnit
    speaker: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class _Turn(NamedTuple):
    start: int
    end: int
    speaker: str | None
    metadata: dict[str, Any]


# --- spans ---------------------------------------------------------------------------------


def _paragraphs(text: str, start: int, end: int) -> list[Span]:
    spans = []
    for separator in _BLANK_LINE.finditer(text, start, end):
        spans.append(trim_span(text, start, separator.start()))
        start = separator.end()
    spans.append(trim_span(text, start, end))
    return [span for span in spans if span[0] < span[1]]


def _sentences(text: str, start: int, end: int, language: str) -> list[Span]:
    return [
        span
        for paragraph in _paragraphs(text, start, end)
        for span in split_sentences(text, language, *paragraph)
    ]


def _next_window_start(text: str, start: int, stop: int, overlap: int) -> int:
    """Back up ``overlap`` characters from ``stop``, then forward to the next word start."""
    position = stop - overlap
    if overlap == 0 or position <= start:
        return stop
    while position < stop and not (text[position - 1].isspace() or text[position].isspace()):
        position += 1
    return position


def _windows(text: str, start: int, end: int, size: int, overlap: int) -> list[Span]:
    # langchain-text-splitters is not used: its add_start_index finds each chunk with str.find
    # and so reports the wrong offset (or -1) when the same words recur within the overlap.
    spans = []
    position, end = trim_span(text, start, end)
    stop = position
    while position < end:
        # Cut after the previous window's end, or this window would only repeat part of it.
        stop = end if end - position <= size else cut_point(text, max(position, stop), position + size)
        spans.append(trim_span(text, position, stop))
        if stop == end:
            break
        position, _ = trim_span(text, _next_window_start(text, position, stop, overlap), end)
    return spans


def _merge_short(spans: list[Span], min_chars: int) -> list[Span]:
    """Merge spans shorter than ``min_chars`` into the next one (the last into the one before)."""
    merged: list[Span] = []
    pending: int | None = None  # start of short spans waiting for the next one
    for start, end in spans:
        start = start if pending is None else pending
        pending = start if end - start < min_chars else None
        if pending is None:
            merged.append((start, end))
    if pending is not None:
        last_end = spans[-1][1]
        merged[-1:] = [(merged[-1][0] if merged else pending, last_end)]
    return merged


def _split_long(text: str, span: Span, max_chars: int, language: str) -> list[Span]:
    """Split a span longer than ``max_chars`` into runs of whole sentences, or at whitespace."""
    start, end = span
    if end - start <= max_chars:
        return [span]
    pieces: list[Span] = []
    for sentence in _sentences(text, start, end, language):
        if pieces and sentence[1] - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], sentence[1])
        else:
            pieces.append(sentence)
    return [piece for run in pieces for piece in _windows(text, *run, size=max_chars, overlap=0)]


# --- turns ---------------------------------------------------------------------------------


def _cue_turns(blocks: list[Block]) -> list[_Turn]:
    """Consecutive cues of the same speaker make one turn, timed from its first to its last cue."""
    turns: list[_Turn] = []
    for block in blocks:
        if turns and turns[-1].speaker == block.speaker:
            previous = turns[-1]
            turns[-1] = previous._replace(
                end=block.end, metadata={**previous.metadata, "end": block.metadata["end"]}
            )
        else:
            turns.append(_Turn(block.start, block.end, block.speaker, dict(block.metadata)))
    return turns


def _turns(doc: ExtractedDocument, speaker_patterns: list[str]) -> list[_Turn]:
    if not doc.blocks:
        return [
            _Turn(t.start, t.end, t.speaker, {"timestamp": t.timestamp} if t.timestamp else {})
            for t in detect_turns(doc.text, speaker_patterns)
        ]
    if doc.blocks[0].kind == "cue":
        return _cue_turns(doc.blocks)
    return [_Turn(block.start, block.end, block.speaker, dict(block.metadata)) for block in doc.blocks]


# --- entry point ---------------------------------------------------------------------------


def _turn_spans(
    text: str, turn: _Turn, unit: SegmentUnit, options: ChunkOptions, language: str
) -> list[Span]:
    if unit is SegmentUnit.WINDOW:
        size = min(options.window_chars, options.max_chars or options.window_chars)
        return _windows(text, turn.start, turn.end, size, min(options.overlap_chars, size - 1))
    if unit is SegmentUnit.PARAGRAPH:
        spans = _paragraphs(text, turn.start, turn.end)
    elif unit is SegmentUnit.SENTENCE:
        spans = _sentences(text, turn.start, turn.end, language)
    else:
        start, end = trim_span(text, turn.start, turn.end)
        spans = [(start, end)] if start < end else []
    spans = _merge_short(spans, options.min_chars)
    if options.max_chars is None:
        return spans
    return [piece for span in spans for piece in _split_long(text, span, options.max_chars, language)]


def segment_document(doc: ExtractedDocument, options: ChunkOptions) -> list[SegmentSpan]:
    """Cut ``doc`` into segments of ``options.unit``; ``doc.text[s.start:s.end]`` is each segment's text.

    Spans are in text order and never overlap, except consecutive windows by up to ``overlap_chars``.
    The 'response' unit is for CSV answers; for other formats it means 'paragraph'.
    """
    unit = options.unit
    if unit is SegmentUnit.RESPONSE and doc.format != "csv":
        unit = SegmentUnit.PARAGRAPH
    language = options.language or detect_language(doc.text)
    segments = []
    for turn in _turns(doc, options.speaker_patterns or []):
        segments += [
            SegmentSpan(start=start, end=end, unit=unit, speaker=turn.speaker, metadata=turn.metadata)
            for start, end in _turn_spans(doc.text, turn, unit, options, language)
        ]
    return segments
