"""Finding quotes in segments (English, Persian, emoji), grounding answers, and redaction offsets."""

from __future__ import annotations

import pytest

from services.suggestion.grounding import ground_answer, locate_quote
from services.suggestion.models import DeductiveAnswer, DeductiveItem, InductiveAnswer, InductiveItem, Mode
from services.suggestion.redaction import Redaction, Redactor
from tests.suggestion.samples import PAPER, SOURCE, request_for

PERSIAN = "مصاحبه‌شونده: داده‌ها بیشتر با نامه منتقل می‌شوند و کارکنان به سامانه اعتماد ندارند."


@pytest.mark.parametrize(
    ("text", "quote", "expected", "match"),
    [
        (PAPER, "We print the forms", "We print the forms", "exact"),
        (PAPER, "“We print the forms”", "We print the forms", "exact"),
        (PAPER, "we  PRINT the\nforms", "We print the forms", "normalized"),
        (PAPER, "We printed the forms and scan them", "We print the forms and scan them", "fuzzy"),
        # Arabic yeh and kaf where the transcript has Persian ones, and a lost half-space (ZWNJ).
        (PERSIAN, "كاركنان به سامانه اعتماد ندارند", "کارکنان به سامانه اعتماد ندارند", "normalized"),
        (PERSIAN, "منتقل میشوند", "منتقل می‌شوند", "normalized"),
        (PERSIAN, "داده ها بیشتر با نامه منتقل میشود", "داده‌ها بیشتر با نامه منتقل می‌شوند", "fuzzy"),
        ("Honestly 👩🏽‍🔬 nobody believes it 😀.", "nobody believes it 😀", "nobody believes it 😀", "exact"),
        (
            "Honestly 👩🏽‍🔬 nobody believes it 😀.",
            "Honestly 👩🏽‍🔬 Nobody believes",
            "Honestly 👩🏽‍🔬 nobody believes",
            "normalized",
        ),
    ],
)
def test_a_quote_is_found_and_mapped_to_original_offsets(
    text: str, quote: str, expected: str, match: str
) -> None:
    span = locate_quote(text, quote)

    assert span is not None
    assert (text[span.start : span.end], span.match) == (expected, match)
    assert span.similarity >= 0.85


@pytest.mark.parametrize(
    "quote",
    [
        "We email the spreadsheets every week",  # not said
        "Interviewer: How do agencies share data?",  # in the context, not in the segment
        "دولت الکترونیک یکپارچه",
        "   ",
    ],
)
def test_a_quote_that_is_not_in_the_segment_is_rejected(quote: str) -> None:
    assert locate_quote(PAPER, quote) is None
    assert locate_quote(PERSIAN, quote) is None


def test_a_grounded_answer_has_source_offsets_ranks_by_confidence_and_counts_what_it_dropped() -> None:
    request = request_for(PAPER)
    answer = DeductiveAnswer(
        suggestions=[
            DeductiveItem(
                code="Email as channel", confidence=0.4, rationale="Email.", quote="Mostly by email"
            ),
            DeductiveItem(
                code="paper-based  PROCESSES", confidence=0.9, rationale="Forms.", quote="print the forms"
            ),
            DeductiveItem(code="code-paper", confidence=0.5, rationale="Again.", quote="scan them again"),
            DeductiveItem(
                code="Distrust of data", confidence=0.7, rationale="?", quote="the portal is broken"
            ),
        ]
    )

    agreement = {"code-paper": 0.9, "code-email": 0.4, "code-trust": 0.7}
    result = ground_answer(
        request, answer, redaction=Redaction(request.text), provenance={"model": "m"}, agreement=agreement
    )

    assert [(s.code_id, s.confidence) for s in result.suggestions] == [
        ("code-paper", 0.9),
        ("code-email", 0.4),
    ]
    assert [SOURCE[s.quote_start : s.quote_end] for s in result.suggestions] == [
        "print the forms",
        "Mostly by email",
    ]
    assert result.dropped == {"duplicate": 1, "quote_not_found": 1}
    assert result.suggestions[0].provenance == {
        "model": "m",
        "dropped": {"duplicate": 1, "quote_not_found": 1},
        "cache_hit": False,
        "applies": True,
        "quote_similarity": 1.0,
        "self_reported_confidence": 0.9,
    }


def test_a_quote_copied_from_the_context_is_never_grounded() -> None:
    # Run against Qwen2.5-Coder-1.5B, 49 of 157 quotes came from the next unit, shown as context.
    request = request_for(PAPER, context_after="Interviewer: Do people trust the portal?")
    answer = DeductiveAnswer(
        suggestions=[
            DeductiveItem(rationale="Trust.", code="Distrust of data", quote="Do people trust the portal?"),
            DeductiveItem(rationale="Forms.", code="Paper-based processes", quote="print the forms"),
        ]
    )

    result = ground_answer(request, answer, redaction=Redaction(request.text), provenance={})

    assert [s.code_id for s in result.suggestions] == ["code-paper"]
    assert result.dropped == {"quote_in_context": 1}


def test_an_inductive_answer_gives_labels_not_codes() -> None:
    request = request_for(PAPER, mode=Mode.INDUCTIVE, candidates=[])
    answer = InductiveAnswer(
        suggestions=[
            InductiveItem(
                label=" Manual  rework ", confidence=0.8, rationale="Re-scanning.", quote="scan them"
            )
        ]
    )

    [suggestion] = ground_answer(
        request, answer, redaction=Redaction(request.text), provenance={}
    ).suggestions

    assert (suggestion.code_id, suggestion.proposed_label) == (None, "Manual rework")
    assert SOURCE[suggestion.quote_start : suggestion.quote_end] == "scan them"


def test_redaction_masks_emails_phones_and_names_and_maps_offsets_back() -> None:
    text = "Maryam Karimi (maryam.k@example.org, +98 912 345 6789) said in 1402 that 3.5% was spent."
    redaction = Redactor(["maryam", "Karimi"]).redact(text)

    assert redaction.text == "[NAME] [NAME] ([EMAIL], [PHONE]) said in 1402 that 3.5% was spent."
    span = locate_quote(redaction.text, "[NAME] [NAME] ([EMAIL]")
    assert span is not None
    start, end = redaction.to_original(span.start, span.end)
    assert text[start:end] == "Maryam Karimi (maryam.k@example.org"
    tail = redaction.text.index("said")
    assert redaction.to_original(tail, tail + 4) == (text.index("said"), text.index("said") + 4)


def test_redaction_of_persian_names_and_digits() -> None:
    text = "علی رضایی گفت شماره‌ام ۰۹۱۲۳۴۵۶۷۸۹ است."
    redaction = Redactor(["علی رضایی"]).redact(text)

    assert redaction.text == "[NAME] گفت شماره‌ام [PHONE] است."
    assert redaction.to_original(0, len(redaction.text)) == (0, len(text))
