"""Segmenting documents: offsets stay exact for every format and unit."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from groundcode.domain import SegmentUnit
from services.chunking.readers import ExtractedDocument, read_document
from services.chunking.segmenter import ChunkOptions, SegmentSpan, segment_document

LIMIT = 1_000_000


def read(name: str, text: str) -> ExtractedDocument:
    return read_document(name, text.encode("utf-8"), max_bytes=LIMIT)


def texts(doc: ExtractedDocument, spans: Sequence[SegmentSpan]) -> list[str]:
    return [doc.text[span.start : span.end] for span in spans]


def assert_spans_valid(doc: ExtractedDocument, spans: Sequence[SegmentSpan], max_overlap: int = 0) -> None:
    """Inside the text, trimmed, non-empty, in order, overlapping the previous one by <= ``max_overlap``."""
    previous_start, previous_end = -1, 0
    for span in spans:
        piece = doc.text[span.start : span.end]
        assert 0 <= span.start < span.end <= len(doc.text)
        assert piece == piece.strip(), f"untrimmed span {piece!r}"
        assert span.start > previous_start, "spans out of order"
        assert previous_end - span.start <= max_overlap, f"too much overlap before {piece!r}"
        previous_start, previous_end = span.start, span.end


def visible_characters(doc: ExtractedDocument, spans: Sequence[SegmentSpan]) -> set[int]:
    return {i for span in spans for i in range(span.start, span.end) if not doc.text[i].isspace()}


def check_every_unit(doc: ExtractedDocument, **options: int | None) -> None:
    """Every unit gives valid spans covering exactly the characters the turns cover, with their speaker."""
    turns = segment_document(doc, ChunkOptions(unit=SegmentUnit.TURN, **options))
    assert_spans_valid(doc, turns)
    speaker_at = {i: turn.speaker for turn in turns for i in range(turn.start, turn.end)}
    for unit in SegmentUnit:
        chunk = ChunkOptions(unit=unit, **options)
        spans = segment_document(doc, chunk)
        assert_spans_valid(doc, spans, chunk.overlap_chars if unit is SegmentUnit.WINDOW else 0)
        assert visible_characters(doc, spans) == visible_characters(doc, turns), unit
        assert all(speaker_at[span.start] == span.speaker for span in spans), unit


@pytest.mark.parametrize(
    "name",
    [
        "interview.txt",
        "interview.md",
        "interview.docx",
        "interview.pdf",
        "interview.vtt",
        "interview.srt",
        "survey.csv",
    ],
)
def test_offsets_round_trip_for_every_format_and_unit(name: str, sample_files: dict[str, bytes]) -> None:
    doc = read_document(name, sample_files[name], max_bytes=LIMIT)
    check_every_unit(doc)
    check_every_unit(doc, window_chars=30, overlap_chars=10, min_chars=8, max_chars=40)


def test_turns_exclude_labels_and_keep_timestamps() -> None:
    doc = read("a.txt", "Title\r\n\r\n[00:05:12] Interviewer: Why is it slow?\r\nP1: Budget. Law.\r\n")
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.TURN))
    assert [(s.speaker, s.metadata, text) for s, text in zip(spans, texts(doc, spans), strict=True)] == [
        (None, {}, "Title"),
        ("Interviewer", {"timestamp": "00:05:12"}, "Why is it slow?"),
        ("P1", {}, "Budget. Law."),
    ]


def test_sentences_keep_their_turns_speaker() -> None:
    doc = read("a.txt", "Interviewer: Why? And how?\nمصاحبه‌شونده: بودجه. قانون؟\n")
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.SENTENCE, language="fa"))
    assert [(s.speaker, text) for s, text in zip(spans, texts(doc, spans), strict=True)] == [
        ("Interviewer", "Why?"),
        ("Interviewer", "And how?"),
        ("مصاحبه‌شونده", "بودجه."),
        ("مصاحبه‌شونده", "قانون؟"),
    ]


def test_paragraphs_split_at_blank_lines_inside_turns() -> None:
    doc = read("a.md", "**Sara**: One.\nStill one.\n \nTwo.\n**Sara**: Three.")
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.PARAGRAPH))
    assert texts(doc, spans) == ["One.\nStill one.", "Two.", "Three."]


def test_consecutive_cues_of_one_speaker_form_one_turn() -> None:
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Ana>Why?\n\n"
        "00:00:02.000 --> 00:00:03.000\n<v Ben>Budget,\n\n00:00:03.000 --> 00:00:05.000\n<v Ben>mostly.\n"
    )
    doc = read("call.vtt", vtt)
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.TURN))
    assert [(s.speaker, s.metadata, text) for s, text in zip(spans, texts(doc, spans), strict=True)] == [
        ("Ana", {"start": "00:00:01.000", "end": "00:00:02.000"}, "Why?"),
        ("Ben", {"start": "00:00:02.000", "end": "00:00:05.000"}, "Budget,\n\nmostly."),
    ]


def test_response_unit_is_one_csv_answer_and_a_paragraph_elsewhere(sample_files: dict[str, bytes]) -> None:
    doc = read_document("survey.csv", sample_files["survey.csv"], max_bytes=LIMIT)
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.RESPONSE))
    assert [(s.unit, s.speaker, s.metadata["row"]) for s in spans] == [
        ("response", "r1", 1),
        ("response", "r3", 3),
    ]
    assert texts(doc, spans)[1] == "خدمات خوب است؟ بله.\n\nولی کند است."

    text_doc = read("a.txt", "One.\n\nTwo.")
    spans = segment_document(text_doc, ChunkOptions(unit=SegmentUnit.RESPONSE))
    assert [(s.unit, text) for s, text in zip(spans, texts(text_doc, spans), strict=True)] == [
        ("paragraph", "One."),
        ("paragraph", "Two."),
    ]


def test_windows_snap_to_whitespace_and_overlap() -> None:
    words = " ".join(f"word{n:02d}" for n in range(40))  # 7 characters a word
    doc = read("a.txt", words)
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.WINDOW, window_chars=50, overlap_chars=16))
    assert_spans_valid(doc, spans, max_overlap=16)
    for text in texts(doc, spans):
        assert len(text) <= 50
        assert text.startswith("word") and len(text.split()[-1]) == 6, "windows begin and end on whole words"
    assert texts(doc, spans)[1].startswith("word05 word06")  # two words of overlap
    assert visible_characters(doc, spans) == {i for i, char in enumerate(words) if char != " "}


def test_hard_window_cuts_do_not_split_emoji_or_accents() -> None:
    doc = read("a.txt", "ab👩🏽‍🔬e\u0301" * 20)
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.WINDOW, window_chars=5, overlap_chars=0))
    assert "".join(texts(doc, spans)) == doc.text
    for text in texts(doc, spans):
        assert text[0] not in "\u0301\u200d\U0001f3fd\U0001f52c", text
        assert text[-1] not in "\u200d", text


def test_min_chars_merges_short_segments_forward_within_a_turn() -> None:
    doc = read("a.txt", "Interviewer: Yes. No. A longer sentence here.\nP1: Ok. Fine.")
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.SENTENCE, min_chars=10))
    assert texts(doc, spans) == ["Yes. No. A longer sentence here.", "Ok. Fine."]


def test_max_chars_splits_at_sentences_then_whitespace() -> None:
    doc = read("a.txt", "One two. Three four five six seven eight nine ten. Eleven.")
    spans = segment_document(doc, ChunkOptions(unit=SegmentUnit.PARAGRAPH, max_chars=25))
    assert texts(doc, spans) == ["One two.", "Three four five six seven", "eight nine ten.", "Eleven."]
    assert all(span.unit == "paragraph" for span in spans)


def test_custom_speaker_patterns() -> None:
    doc = read("a.txt", "SPK_1: Why?\nSPK_2: Budget.")
    spans = segment_document(doc, ChunkOptions(speaker_patterns=[r"SPK_\d"]))
    assert [s.speaker for s in spans] == ["SPK_1", "SPK_2"]


@pytest.mark.parametrize(
    "options",
    [
        {"window_chars": 100, "overlap_chars": 100},
        {"min_chars": 50, "max_chars": 20},
        {"speaker_patterns": ["(unclosed"]},
        {"unit": "chapter"},
    ],
)
def test_inconsistent_options_are_rejected(options: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ChunkOptions.model_validate(options)


def test_bundled_samples_have_speakers(bundled_samples: dict[str, bytes]) -> None:
    assert set(bundled_samples) == {"interview_01_en.txt", "interview_02_fa.txt"}
    for name, data in bundled_samples.items():
        doc = read_document(name, data, max_bytes=LIMIT)
        turns = segment_document(doc, ChunkOptions(unit=SegmentUnit.TURN))
        assert len({turn.speaker for turn in turns} - {None}) == 2, name
        assert len(turns) > 30
        check_every_unit(doc)


# --- property-style: random text mixtures ----------------------------------------------------

PIECES = [
    "data", "sharing", "Dr.", "e.g.", "3.5", "U.S.", "trust", "budget?!", "Really...", "end.", "(00:12)",
    "داده‌ها", "اعتماد", "بودجه؟", "۳٫۵", "يك", "كتاب", "…", "نه!", "👩🏽‍🔬", "🇮🇷", "e\u0301", "\u200c",
    "Interviewer:", "P1:", "Note:", "**Sara**:", "[00:01:02]", "مصاحبه‌گر:", ":", "—",
]  # fmt: skip
SEPARATORS = [" ", " ", " ", "  ", "\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\t", "\n \n"]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) + rng.choice(SEPARATORS) for _ in range(rng.randrange(1, 120)))


def test_random_mixtures_keep_offsets_exact() -> None:
    rng = random.Random(20240601)
    for _ in range(60):
        raw = random_text(rng)
        if not raw.strip():
            continue
        doc = read_document("mix.txt", raw.encode("utf-8"), max_bytes=LIMIT)
        assert "\r" not in doc.text and doc.text == raw.replace("\r\n", "\n").replace("\r", "\n")
        window = rng.randrange(5, 300)
        check_every_unit(
            doc,
            window_chars=window,
            overlap_chars=rng.randrange(0, window),
            min_chars=rng.choice([0, 0, 5, 40]),
            max_chars=rng.choice([None, 60, 500]),
        )
