"""Which segments get suggestions: interviewers and front matter are left out by default. Pure."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from groundcode.coding_scope import CodingScope, codable
from groundcode.domain import Segment, SegmentUnit, Source

TRANSCRIPT = Source(id="src", project_id="p", name="interview.txt", format="txt", text="", content_hash="")
SURVEY = TRANSCRIPT.model_copy(update={"name": "survey.csv", "format": "csv"})


def segments(*turns: tuple[str | None, str], unit: SegmentUnit = SegmentUnit.TURN) -> list[Segment]:
    found, start = [], 0
    for position, (speaker, text) in enumerate(turns):
        found.append(
            Segment(
                id=f"s{position}",
                source_id="src",
                position=position,
                start=start,
                end=start + len(text),
                text=text,
                unit=unit,
                speaker=speaker,
            )
        )
        start += len(text) + 1
    return found


INTERVIEW = segments(
    (None, "Interview 07 - Digital services"),
    (None, "Duration: 41 minutes."),
    ("Interviewer", "What about privacy?"),
    ("P1", "Nobody trusts the portal after the leak."),
    ("I", "What changed?"),
    ("P3", "The budget was cut."),
    ("Moderator 2", "Thank you."),
)


def texts(found: list[Segment]) -> list[str]:
    return [segment.text for segment in found]


def test_by_default_interviewer_turns_and_front_matter_are_not_coded() -> None:
    assert texts(codable(TRANSCRIPT, INTERVIEW, CodingScope())) == [
        "Nobody trusts the portal after the leak.",
        "The budget was cut.",
    ]


@pytest.mark.parametrize(
    "label", ["Interviewer", "interviewer 2", "I", "Q", "Int.", "Facilitator", "Researcher (AB)", "مصاحبه‌گر"]
)
def test_interviewer_like_labels_are_not_coded_by_default(label: str) -> None:
    assert not CodingScope().codes_speaker(label)


@pytest.mark.parametrize("label", ["P1", "Participant 3", "Respondent", "Isabel", "مصاحبه‌شونده", "Q&A panel"])
def test_other_speakers_are_coded_by_default(label: str) -> None:
    assert CodingScope().codes_speaker(label)


def test_named_speakers_only_and_still_no_front_matter() -> None:
    scope = CodingScope(rule="speakers", speakers=["p3", "Moderator 2"])
    assert texts(codable(TRANSCRIPT, INTERVIEW, scope)) == ["The budget was cut.", "Thank you."]


def test_a_pattern_matches_the_whole_label_in_any_case() -> None:
    scope = CodingScope(rule="pattern", pattern=r"p\d+")
    assert texts(codable(TRANSCRIPT, INTERVIEW, scope)) == [
        "Nobody trusts the portal after the leak.",
        "The budget was cut.",
    ]


def test_all_speakers_includes_the_interviewer_but_not_the_front_matter() -> None:
    coded = texts(codable(TRANSCRIPT, INTERVIEW, CodingScope(rule="all")))
    assert coded[0] == "What about privacy?" and len(coded) == 5


def test_text_without_speaker_turns_and_survey_answers_are_all_coded() -> None:
    notes = segments((None, "Duration: 41 minutes."), (None, "The budget was cut."))
    assert codable(TRANSCRIPT, notes, CodingScope(rule="speakers", speakers=["P1"])) == notes
    answers = segments(("R1", "Too slow."), ("I", "Fine."), unit=SegmentUnit.SENTENCE)
    assert codable(SURVEY, answers, CodingScope()) == answers


@pytest.mark.parametrize(
    "values",
    [
        {"rule": "speakers"},
        {"rule": "pattern"},
        {"rule": "pattern", "pattern": "("},
        {"rule": "default", "speakers": ["P1"]},
        {"rule": "all", "pattern": "P1"},
    ],
)
def test_a_rule_must_come_with_exactly_what_it_needs(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        CodingScope.model_validate(values)


def test_each_rule_says_what_it_codes() -> None:
    assert CodingScope().describe().startswith("every speaker except interviewers")
    assert CodingScope(rule="speakers", speakers=["P1", "P3"]).describe() == "speakers P1, P3"
