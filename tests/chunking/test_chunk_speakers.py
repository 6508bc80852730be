"""Speaker-turn detection over plain text."""

from __future__ import annotations

import pytest

from services.chunking.speakers import compile_speaker_pattern, detect_turns, find_labels


def said(text: str, extra_patterns: tuple[str, ...] = ()) -> list[tuple[str | None, str]]:
    """(speaker, trimmed text) of each non-empty turn."""
    turns = detect_turns(text, extra_patterns)
    return [
        (turn.speaker, text[turn.start : turn.end].strip())
        for turn in turns
        if text[turn.start : turn.end].strip()
    ]


@pytest.mark.parametrize(
    ("transcript", "expected"),
    [
        ("Interviewer: Why?\nInterviewee: Budget.", [("Interviewer", "Why?"), ("Interviewee", "Budget.")]),
        ("I: Why?\nR: Budget.", [("I", "Why?"), ("R", "Budget.")]),
        (
            "Q: Why?\nA: Budget.\nP3: Law.\nP12: Trust.",
            [("Q", "Why?"), ("A", "Budget."), ("P3", "Law."), ("P12", "Trust.")],
        ),
        ("Moderator: Why?\nParticipant 4: Budget.", [("Moderator", "Why?"), ("Participant 4", "Budget.")]),
        (
            "Dr. Smith: Why?\nMaryam: Budget.\nDr. Smith: And?\nMaryam: Law.",
            [("Dr. Smith", "Why?"), ("Maryam", "Budget."), ("Dr. Smith", "And?"), ("Maryam", "Law.")],
        ),
        (
            "**Interviewer:** Why?\n**Sara**: Budget.\n__Sara__: Law.",
            [("Interviewer", "Why?"), ("Sara", "Budget."), ("Sara", "Law.")],
        ),
        (
            "مصاحبه‌گر: چرا؟\nمصاحبه‌شونده: بودجه.\nمصاحبه گر: و؟\nمصاحبه‌كننده: قانون.",
            [("مصاحبه‌گر", "چرا؟"), ("مصاحبه‌شونده", "بودجه."), ("مصاحبه گر", "و؟"), ("مصاحبه‌كننده", "قانون.")],
        ),
    ],
)
def test_label_conventions(transcript: str, expected: list[tuple[str, str]]) -> None:
    assert said(transcript) == expected


def test_timestamps_before_or_after_the_label_go_to_metadata() -> None:
    text = (
        "[00:12:31] Interviewer: Why?\nP1 (00:12): Budget.\nP1: [1:02:03.5] Law.\n"
        "**Sara**: (00:14) x\nSara: y"
    )
    turns = detect_turns(text)
    assert [(t.speaker, t.timestamp, text[t.start : t.end].strip()) for t in turns] == [
        ("Interviewer", "00:12:31", "Why?"),
        ("P1", "00:12", "Budget."),
        ("P1", "1:02:03.5", "Law."),
        ("Sara", "00:14", "x"),
        ("Sara", None, "y"),
    ]


def test_turn_starts_at_what_was_said_and_runs_to_the_next_label() -> None:
    text = "Preamble line.\n\nInterviewer:   Why?\nMore question.\n\n[00:01] P1:\nBudget.\n"
    turns = detect_turns(text)
    assert [(t.speaker, text[t.start : t.end]) for t in turns] == [
        (None, "Preamble line.\n\n"),
        ("Interviewer", "Why?\nMore question.\n\n"),
        ("P1", "\nBudget.\n"),
    ]


def test_a_single_note_is_not_a_speaker() -> None:
    text = (
        "Interviewer: Why?\nP1: Budget.\nNote: the budget was cut twice.\n"
        "Therefore: nothing.\nInterviewer: Ok."
    )
    assert [label.speaker for label in find_labels(text)] == ["Interviewer", "P1", "Interviewer"]


def test_repeated_header_words_urls_and_clock_times_are_not_speakers() -> None:
    text = (
        "Note: first.\nNote: second.\nhttps://example.org\nhttps://example.org/x\n"
        "Time:10:30\nTime:11:30\nthe point: here\nthe point: again\n"
        "The reason why I think this matters so much: x\nThe reason why I think this matters so much: y\n"
    )
    assert find_labels(text) == []


def test_colons_mid_line_are_not_labels() -> None:
    assert said("He said: Maryam: no.\nShe said: Maryam: yes.") == [
        (None, "He said: Maryam: no.\nShe said: Maryam: yes.")
    ]


def test_custom_patterns_are_trusted_from_one_occurrence() -> None:
    text = "SPK_7: Hello.\nMaryam: Hi."
    assert said(text, (r"SPK_\d+",)) == [("SPK_7", "Hello.\nMaryam: Hi.")]


def test_invalid_custom_pattern_is_reported() -> None:
    with pytest.raises(ValueError, match="invalid speaker pattern"):
        compile_speaker_pattern("(unclosed")


def test_text_without_labels_is_one_speakerless_turn() -> None:
    text = "Just some notes.\nNothing else."
    assert [tuple(turn) for turn in detect_turns(text)] == [(0, len(text), None, None)]
