"""The saturation rule and curves on hand-made interviews (pure functions, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from groundcode.domain import Coding, Source, Suggestion
from services.analysis.saturation import (
    SaturationRule,
    SourceCodes,
    SuggestionSelection,
    accepted_codes,
    curve,
    ordered_sources,
    saturation_index,
    suggested_codes,
)

RULE = SaturationRule()  # k = 3, m = 0


def interviews(*codes_per_interview: str) -> list[SourceCodes]:
    """One interview per string; each letter is a code."""
    return [
        SourceCodes(source_id=f"s{n}", source=f"interview {n}", codes={code: code.upper() for code in codes})
        for n, codes in enumerate(codes_per_interview, start=1)
    ]


def test_a_curve_that_flattens_saturates_at_the_last_interview_with_new_codes() -> None:
    found = curve("accepted", interviews("abc", "bd", "ae", "ab", "cd", "e", "abcde"), RULE)
    assert [p.new for p in found.points] == [3, 1, 1, 0, 0, 0, 0]
    assert [p.cumulative for p in found.points] == [3, 4, 5, 5, 5, 5, 5]
    assert found.points[1].new_codes == ["D"]
    assert (found.saturation, found.saturation_source) == (3, "interview 3")
    assert (found.confirmed_by, found.added_after) == (4, 0)


def test_a_curve_that_never_flattens_has_no_saturation_point() -> None:
    found = curve("accepted", interviews("ab", "c", "d", "e", "f", "g"), RULE)
    assert found.saturation is None and found.confirmed_by == 0
    assert found.points[-1].cumulative == 7


def test_flat_from_the_start_saturates_at_the_first_interview() -> None:
    assert curve("accepted", interviews("ab", "a", "b", "ab"), RULE).saturation == 1


def test_too_few_interviews_after_a_plateau_cannot_confirm_it() -> None:
    assert curve("accepted", interviews("ab", "c", "a", "b"), RULE).saturation is None  # 2 after, k = 3


def test_an_early_plateau_is_reported_with_the_codes_that_came_after_it() -> None:
    found = curve("accepted", interviews("abcde", "fg", "a", "b", "c", "hijk", "l", "a"), RULE)
    assert found.saturation == 2 and found.added_after == 5
    # A longer window does not take the early plateau for saturation.
    longer = SaturationRule(window=4)
    assert (
        curve("accepted", interviews("abcde", "fg", "a", "b", "c", "hijk", "l", "a"), longer).saturation
        is None
    )


def test_max_new_tolerates_a_few_new_codes_within_the_window() -> None:
    new = [5, 3, 1, 0, 1, 0, 0, 0]
    assert saturation_index(new, SaturationRule()) == 4
    assert saturation_index(new, SaturationRule(max_new=1)) == 2  # 0 + 1 + 0 after the third


def test_uncoded_interviews_are_no_evidence_of_saturation() -> None:
    found = curve("accepted", interviews("abc", "d", "", "", "", "e"), RULE)
    assert [p.coded for p in found.points] == [True, True, False, False, False, True]
    assert found.saturation is None  # the empty interviews are not coded yet, not saturated


def test_sources_are_ordered_by_name_with_numbers_as_numbers_or_by_import() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    names = ["interview_10.txt", "interview_2.txt", "Interview_1.txt"]
    sources = [
        Source(
            project_id="p", name=name, format="txt", text="x", content_hash=name, imported_at=start + i * DAY
        )
        for i, name in enumerate(names)
    ]
    assert [s.name for s in ordered_sources(sources, "name")] == [names[2], names[1], names[0]]
    assert [s.name for s in ordered_sources(sources, "imported")] == names


DAY = timedelta(days=1)


def test_accepted_codes_are_the_codes_of_the_codings_per_source() -> None:
    sources = [_source("a"), _source("b")]
    codings = [_coding("a", "c1"), _coding("a", "c2"), _coding("a", "c1", coder="other"), _coding("x", "c3")]
    found = accepted_codes(sources, codings, {"c1": "Trust"})
    assert [f.codes for f in found] == [{"c1": "Trust", "c2": "c2"}, {}]


def test_suggested_codes_take_the_best_suggestions_above_the_confidence() -> None:
    sources = [_source("a")]
    found = [
        (_suggestion("s1", code_id="c1", rank=1, confidence=0.9), "a"),
        (_suggestion("s1", code_id="c2", rank=2, confidence=0.8), "a"),  # not the best
        (_suggestion("s2", code_id="c3", rank=1, confidence=0.3), "a"),  # not confident
        (_suggestion("s3", code_id="old", rank=1, confidence=0.7), "a"),  # merged into c1
        (_suggestion("s1", label="Data  Leak", rank=1, confidence=0.9), "a"),
        (_suggestion("s2", label="data leak", rank=1, confidence=0.9), "a"),
    ]
    names = {"c1": "Trust", "c2": "Budget"}
    deductive = suggested_codes(sources, found, names, {"old": "c1"}, SuggestionSelection())
    assert deductive[0].codes == {"c1": "Trust"}
    both = suggested_codes(sources, found, names, {}, SuggestionSelection(top=2, mode="both"))
    assert set(both[0].codes.values()) == {"Trust", "Budget", "old", "data leak"}


def _source(source_id: str) -> Source:
    return Source(
        id=source_id, project_id="p", name=source_id, format="txt", text="x", content_hash=source_id
    )


def _coding(source_id: str, code_id: str, coder: str = "ana") -> Coding:
    return Coding(
        coder_id=coder,
        source_id=source_id,
        segment_id=f"{source_id}-1",
        code_id=code_id,
        start=0,
        end=1,
        decision_id=f"{coder}-{code_id}",
        decided_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def _suggestion(
    segment_id: str, *, rank: int, confidence: float, code_id: str | None = None, label: str | None = None
) -> Suggestion:
    return Suggestion(
        segment_id=segment_id,
        code_id=code_id,
        proposed_label=label,
        confidence=confidence,
        mode="deductive" if code_id else "inductive",
        rank=rank,
        backend="offline",
    )
