"""Theoretical saturation: how many new codes each further interview brings. Pure functions, no I/O.

Researchers stop interviewing once further interviews stop adding codes (seed 000 was "theoretically
saturated from the eleventh interview onwards" and went on to 15 "for greater certainty"; seed 002 reached
saturation at 14 and confirmed it with 2 more). The rule used here is stated with its parameters:

    The saturation point is the first interview after which ``window`` (k) consecutive coded interviews
    add at most ``max_new`` (m) new codes together.

The defaults, k = 3 and m = 0, are the stopping criterion of Francis et al. (2010, "three consecutive
interviews with no new ideas"). Interviews without any code (not coded yet) are shown on the curve but are
no evidence of saturation: the rule walks over the coded interviews only. A curve can flatten early and
rise again; ``added_after`` counts the codes that came after the confirming window, so an early plateau is
visible rather than hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from pydantic import Field

from groundcode.domain import Coding, Model, Source, Suggestion, SuggestionMode
from groundcode.textnorm import normalize_for_matching

Basis = Literal["accepted", "suggested"]
Order = Literal["name", "imported"]
ModeChoice = Literal["deductive", "inductive", "both"]


class SaturationRule(Model):
    window: int = Field(default=3, ge=1, description="k: consecutive coded interviews that must confirm.")
    max_new: int = Field(default=0, ge=0, description="m: new codes those k interviews may add together.")

    def describe(self) -> str:
        codes = "no new code" if self.max_new == 0 else f"at most {self.max_new} new codes"
        return (
            f"the first interview after which {self.window} consecutive coded interviews add {codes} together"
        )


class SuggestionSelection(Model):
    """Which suggestions count as codes found in an interview."""

    top: int = Field(default=1, ge=1, description="Best suggestions per segment and mode.")
    min_confidence: float = Field(default=0.5, ge=0.0, le=1.0)
    mode: ModeChoice = "deductive"


class SourceCodes(Model):
    """The codes found in one interview: code key -> display name."""

    source_id: str
    source: str
    codes: dict[str, str]


class CurvePoint(Model):
    interview: int = Field(description="1-based position in the interview order.")
    source_id: str
    source: str
    coded: bool = Field(description="Whether any code was found in the interview.")
    codes: int = Field(description="Distinct codes in this interview.")
    new: int = Field(description="Codes not seen in any earlier interview.")
    cumulative: int = Field(description="Distinct codes up to and including this interview.")
    new_codes: list[str]


class Curve(Model):
    basis: Basis
    points: list[CurvePoint]
    saturation: int | None = Field(description="The interview number where the curve flattens (the rule).")
    saturation_source: str | None
    confirmed_by: int = Field(description="Coded interviews after the saturation point.")
    added_after: int = Field(description="New codes after the confirming window (an early plateau if > 0).")


class SaturationReport(Model):
    project: str
    order: Order
    rule: SaturationRule
    rule_text: str
    selection: SuggestionSelection
    accepted: Curve
    suggested: Curve


def curve(basis: Basis, interviews: Sequence[SourceCodes], rule: SaturationRule) -> Curve:
    """New and cumulative distinct codes per interview, in the given order, and the saturation point."""
    seen: set[str] = set()
    points = []
    for number, interview in enumerate(interviews, start=1):
        new = [key for key in interview.codes if key not in seen]
        seen.update(new)
        points.append(
            CurvePoint(
                interview=number,
                source_id=interview.source_id,
                source=interview.source,
                coded=bool(interview.codes),
                codes=len(interview.codes),
                new=len(new),
                cumulative=len(seen),
                new_codes=sorted(interview.codes[key] for key in new),
            )
        )
    coded = [point for point in points if point.coded]
    index = saturation_index([point.new for point in coded], rule)
    if index is None:
        return Curve(
            basis=basis, points=points, saturation=None, saturation_source=None, confirmed_by=0, added_after=0
        )
    return Curve(
        basis=basis,
        points=points,
        saturation=coded[index].interview,
        saturation_source=coded[index].source,
        confirmed_by=len(coded) - index - 1,
        added_after=sum(point.new for point in coded[index + 1 + rule.window :]),
    )


def saturation_index(new_per_interview: Sequence[int], rule: SaturationRule) -> int | None:
    """The 0-based index of the first interview after which ``rule.window`` interviews add at most
    ``rule.max_new`` codes together; ``None`` if no interview has that many confirming interviews."""
    for index in range(len(new_per_interview) - rule.window):
        if sum(new_per_interview[index + 1 : index + 1 + rule.window]) <= rule.max_new:
            return index
    return None


def ordered_sources(sources: Sequence[Source], order: Order) -> list[Source]:
    """Interview order: by import time (as given), or by name with numbers compared as numbers, so that
    ``interview_2`` comes before ``interview_10``."""
    if order == "imported":
        return list(sources)
    return sorted(sources, key=lambda source: (_natural_key(source.name), source.imported_at))


def _natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part.casefold()) for part in _DIGITS.split(name))


_DIGITS = re.compile(r"(\d+)")


def accepted_codes(
    sources: Sequence[Source], codings: Iterable[Coding], names: Mapping[str, str]
) -> list[SourceCodes]:
    """The codes of the codings in force (any coder), per source in the given order."""
    found: dict[str, dict[str, str]] = {source.id: {} for source in sources}
    for coding in codings:
        if coding.source_id in found:
            found[coding.source_id][coding.code_id] = names.get(coding.code_id, coding.code_id)
    return [SourceCodes(source_id=s.id, source=s.name, codes=found[s.id]) for s in sources]


def suggested_codes(
    sources: Sequence[Source],
    suggestions: Iterable[tuple[Suggestion, str]],
    names: Mapping[str, str],
    aliases: Mapping[str, str],
    selection: SuggestionSelection,
) -> list[SourceCodes]:
    """The codes of the selected suggestions ``(suggestion, source id)`` per source in the given order.

    A code merged into another counts as that other code; proposed labels count by their normalised text
    (so the same label in two spellings is one code)."""
    modes: set[SuggestionMode] = {"deductive", "inductive"} if selection.mode == "both" else {selection.mode}
    found: dict[str, dict[str, str]] = {source.id: {} for source in sources}
    for suggestion, source_id in suggestions:
        chosen = (
            suggestion.mode in modes
            and suggestion.rank <= selection.top
            and suggestion.confidence >= selection.min_confidence
        )
        if not chosen or source_id not in found:
            continue
        if suggestion.code_id is not None:
            code_id = aliases.get(suggestion.code_id, suggestion.code_id)
            found[source_id][code_id] = names.get(code_id, code_id)
        else:
            label = suggestion.proposed_label or ""
            found[source_id]["label:" + normalize_for_matching(label)] = label
    return [SourceCodes(source_id=s.id, source=s.name, codes=found[s.id]) for s in sources]
