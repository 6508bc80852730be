"""Which segments are coded (get suggestions): a project's rule on speakers. Pure, no I/O.

By default every speaker is coded except the interviewer's turns, and never the front matter of a
transcript (title, date, duration lines before its first speaker turn): suggesting codes for "What about
privacy?" or "Duration: 41 minutes." only costs the researcher rejections that teach nothing. Text without
speaker turns (plain notes) and survey answers are always coded in full.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Self, assert_never

from pydantic import Field, model_validator

from groundcode.domain import Model, Segment, Source

INTERVIEWER_PATTERN = (
    r"(?:interviewer|moderator|facilitator|researcher|int|i|q|مصاحبه[\u200c ]?(?:گر|کننده))"
    r"(?:[\s_#.-]*\d+|\s*\(.*\))?\.?"
)
"""Interviewer-like speaker labels ("Interviewer", "I", "Q", "Moderator 2", "Int.", مصاحبه‌گر …), matched
whole and case-insensitively."""

SURVEY_FORMAT = "csv"
ScopeRule = Literal["default", "speakers", "pattern", "all"]


class CodingScope(Model):
    """Whose turns are coded: ``default`` every speaker but interviewer-like ones, ``speakers`` exactly
    the speakers named, ``pattern`` the speakers whose label matches the regex as a whole (case-insensitive),
    ``all`` every speaker. Front matter is never coded."""

    rule: ScopeRule = "default"
    speakers: list[str] = Field(default_factory=list, description="The coded speakers (rule speakers).")
    pattern: str = Field(default="", max_length=500, description="The coded speakers' regex (rule pattern).")

    @model_validator(mode="after")
    def _complete_for_its_rule(self) -> Self:
        if (self.rule == "speakers") != bool(self.speakers):
            raise ValueError("speakers go with the rule 'speakers', which needs at least one")
        if (self.rule == "pattern") != bool(self.pattern):
            raise ValueError("a pattern goes with the rule 'pattern', which needs one")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"invalid speaker pattern {self.pattern!r}: {error}") from error
        return self

    def codes_speaker(self, speaker: str | None) -> bool:
        """Whether a turn of ``speaker`` (after the front matter) is coded."""
        label = (speaker or "").strip()
        match self.rule:
            case "default":
                return not _whole_match(INTERVIEWER_PATTERN, label)
            case "speakers":
                return label.casefold() in {name.strip().casefold() for name in self.speakers}
            case "pattern":
                return bool(label) and _whole_match(self.pattern, label)
            case "all":
                return True
            case unknown:
                assert_never(unknown)

    def describe(self) -> str:
        """The rule in words, as the review page shows it."""
        match self.rule:
            case "default":
                return "every speaker except interviewers (Interviewer, I, Q, Moderator …)"
            case "speakers":
                return "speakers " + ", ".join(self.speakers)
            case "pattern":
                return f"speakers matching {self.pattern}"
            case "all":
                return "every speaker, interviewers too"
            case unknown:
                assert_never(unknown)


def codable(source: Source, segments: Sequence[Segment], scope: CodingScope) -> list[Segment]:
    """The segments of ``source`` (in order) that get suggestions. In a transcript with speaker turns: the
    turns of the coded speakers, never the front matter before the first turn; in survey answers (a CSV
    source, whose "speakers" are respondents) and in text without speaker turns: every segment."""
    turns = [segment.position for segment in segments if segment.speaker is not None]
    if source.format == SURVEY_FORMAT or not turns:
        return list(segments)
    first_turn = min(turns)
    return [s for s in segments if s.position >= first_turn and scope.codes_speaker(s.speaker)]


def _whole_match(pattern: str, label: str) -> bool:
    return re.fullmatch(pattern, label, re.IGNORECASE) is not None
