"""Ground the model's answer in the segment: find each quote, and keep only suggestions whose quote
is really there. Pure.

A quote is looked up three ways, in order: verbatim; in the normalised matching view of
``groundcode.textnorm`` (Arabic/Persian yeh and kaf, missing half-spaces, case, spacing), mapped back
to exact original offsets; and approximately, as the window of the view most similar to the quote
(difflib ratio >= ``FUZZY_THRESHOLD``). A quote found none of these ways drops its suggestion. Only the
segment's own text is searched: a quote copied from the context shown around it is never grounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from groundcode.textnorm import normalize_for_matching, normalized_view_with_map, original_span
from services.suggestion.models import (
    Answer,
    DeductiveAnswer,
    DeductiveItem,
    InductiveAnswer,
    InductiveItem,
    QuoteMatch,
    SegmentSuggestions,
    SuggestedCode,
    SuggestionRequest,
)
from services.suggestion.redaction import Redaction

FUZZY_THRESHOLD = 0.85
# Models wrap quotes in quotation marks or mark elisions at the ends; apostrophes are kept ("'cause").
_WRAPPING = ' \t\r\n"“”„«»…'


@dataclass(frozen=True)
class QuoteSpan:
    start: int
    end: int
    match: QuoteMatch
    similarity: float


def locate_quote(text: str, quote: str, *, threshold: float = FUZZY_THRESHOLD) -> QuoteSpan | None:
    """Where ``quote`` is in ``text`` (code-point offsets into ``text``), or None."""
    needle = quote.strip(_WRAPPING)
    if not needle:
        return None
    position = text.find(needle)
    if position >= 0:
        return QuoteSpan(position, position + len(needle), "exact", 1.0)
    view, origin = normalized_view_with_map(text)
    needle_view = normalize_for_matching(needle).strip()
    if not needle_view or not view:
        return None
    position = view.find(needle_view)
    if position >= 0:
        start, end = original_span(text, origin, position, position + len(needle_view))
        return QuoteSpan(start, end, "normalized", 1.0)
    start, end, similarity = _best_window(view, needle_view)
    if similarity < threshold:
        return None
    return QuoteSpan(*original_span(text, origin, start, end), "fuzzy", similarity)


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def _best_window(haystack: str, needle: str) -> tuple[int, int, float]:
    """The window of ``haystack`` most similar to ``needle``.

    Like fuzzywuzzy's partial ratio, every block the two strings share suggests a needle-sized window
    where the needle would sit, and the most similar one wins. An insertion or deletion in the quote
    makes the true span longer or shorter than the needle, so the ends are then re-fitted to where the
    needle aligns around that window: either tightly (the outermost shared runs) or extended by the
    needle's unmatched ends, whichever is more similar.
    """
    windows = []
    for block in SequenceMatcher(None, needle, haystack, autojunk=False).get_matching_blocks():
        if block.size:
            start = max(0, block.b - block.a)
            windows.append((start, min(len(haystack), start + len(needle))))
    if not windows:
        return 0, 0, 0.0
    start, end = max(windows, key=lambda window: _ratio(needle, haystack[window[0] : window[1]]))
    slack = max(2, len(needle) // 4)
    low, high = max(0, start - slack), min(len(haystack), end + slack)
    # Runs shorter than 3 characters are chance matches (a shared letter or space), not alignment.
    runs = [
        block
        for block in SequenceMatcher(None, needle, haystack[low:high], autojunk=False).get_matching_blocks()
        if block.size >= 3
    ]
    if runs:
        first, last = runs[0], runs[-1]
        tight = (low + first.b, low + last.b + last.size)
        extended = (
            max(low, tight[0] - first.a),
            min(high, tight[1] + len(needle) - last.a - last.size),
        )
        start, end = max(
            (start, end), tight, extended, key=lambda span: _ratio(needle, haystack[span[0] : span[1]])
        )
    while start < end and haystack[start] == " ":
        start += 1
    while end > start and haystack[end - 1] == " ":
        end -= 1
    return start, end, _ratio(needle, haystack[start:end])


def ground_answer(
    request: SuggestionRequest,
    answer: Answer,
    *,
    redaction: Redaction,
    provenance: dict[str, Any],
    cache_hit: bool = False,
    agreement: Mapping[str, float] | None = None,
) -> SegmentSuggestions:
    """Turn a validated answer into suggestions with source offsets, best first.

    ``redaction`` holds the segment text the model saw; quotes are found in it (never in the context)
    and mapped back to the original. Suggestions whose quote is not in the segment (counted apart when it
    was copied from the context), or that repeat a code, are dropped and counted. A suggestion's
    confidence is its ``agreement`` (the share of samples suggesting it; 1.0 without one), the model's
    self-reported number goes to its provenance only.
    """
    dropped: Counter[str] = Counter()
    kept: dict[str, tuple[DeductiveItem | InductiveItem, QuoteSpan]] = {}
    for item in answer.suggestions:
        identity = item_identity(request, item)
        span = locate_quote(redaction.text, item.quote)
        if identity is None:  # parse_answer already refuses these; this guards answers from the cache
            dropped["unknown_code"] += 1
        elif span is None:
            dropped["quote_in_context" if _in_context(request, item.quote) else "quote_not_found"] += 1
        elif identity in kept:
            dropped["duplicate"] += 1
        else:
            kept[identity] = (item, span)
    shared = {**provenance, "dropped": dict(dropped), "cache_hit": cache_hit, "applies": True}
    suggestions = []
    for identity, (item, span) in kept.items():
        start, end = redaction.to_original(span.start, span.end)
        deductive = isinstance(item, DeductiveItem)
        suggestions.append(
            SuggestedCode(
                segment_id=request.segment_id,
                code_id=identity if deductive else None,
                proposed_label=None if deductive else identity,
                confidence=agreement.get(identity, 0.0) if agreement is not None else 1.0,
                rationale=item.rationale.strip(),
                quote_start=request.segment_start + start,
                quote_end=request.segment_start + end,
                quote_match=span.match,
                provenance={
                    **shared,
                    "quote_similarity": round(span.similarity, 3),
                    "self_reported_confidence": item.confidence,
                },
            )
        )
    suggestions.sort(key=lambda suggestion: -suggestion.confidence)  # stable: the model's order on ties
    return SegmentSuggestions(
        segment_id=request.segment_id,
        suggestions=suggestions,
        none_fits=isinstance(answer, DeductiveAnswer) and answer.none_fits,
        dropped=dict(dropped),
        cache_hit=cache_hit,
    )


def _in_context(request: SuggestionRequest, quote: str) -> bool:
    context = f"{request.context_before}\n{request.context_after}"
    return locate_quote(context, quote) is not None if context.strip() else False


def item_identity(request: SuggestionRequest, item: DeductiveItem | InductiveItem) -> str | None:
    """The id of the candidate a deductive item names, or an inductive item's tidied label."""
    if isinstance(item, DeductiveItem):
        candidate = request.find_candidate(item.code)
        return candidate.code_id if candidate else None
    return " ".join(item.label.split())


def combine_samples(request: SuggestionRequest, samples: Sequence[Answer]) -> tuple[Answer, dict[str, float]]:
    """Several sampled answers for one segment as one: every code or label any sample suggested (its
    first wording), ordered by the share of samples that suggested it, which is also returned."""
    votes: Counter[str] = Counter()
    first: dict[str, DeductiveItem | InductiveItem] = {}
    for sample in samples:
        seen = set()
        for item in sample.suggestions:
            identity = item_identity(request, item)
            if identity is not None and identity not in seen:
                seen.add(identity)
                votes[identity] += 1
                first.setdefault(identity, item)
    agreement = {identity: count / len(samples) for identity, count in votes.items()}
    ranked = sorted(first, key=lambda identity: -votes[identity])
    if isinstance(samples[0], DeductiveAnswer):
        deductive = [item for identity in ranked if isinstance(item := first[identity], DeductiveItem)]
        return DeductiveAnswer(none_fits=not deductive, suggestions=deductive), agreement
    inductive = [item for identity in ranked if isinstance(item := first[identity], InductiveItem)]
    return InductiveAnswer(suggestions=inductive), agreement
