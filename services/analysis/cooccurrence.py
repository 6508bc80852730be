"""Code co-occurrence: which codes are applied together, on the same segment or within a few segments of
each other in the same source. Pure: the analysis service gives it the codings' places.

Everything here counts **segments** (a segment coded twice with one code, by two coders, counts once), as
the code-by-source matrix counts distinct coded spans: ``together[a][b]`` is the number of segments coded
``a`` that have a segment coded ``b`` at most ``window`` segments away in the same source (``window=0``: the
same segment, so the table is symmetric); the diagonal is the number of segments coded ``a``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import Field

from groundcode.domain import Model
from services.analysis.axial import Placement


class CooccurrenceReport(Model):
    """Codes (in codebook order) by codes: segments coded with both, and ATLAS.ti's c-coefficient."""

    window: int = Field(ge=0, description="0: the same segment; n: within n segments in the same source.")
    counts: str = "segments"
    code_ids: list[str]
    codes: list[str]
    together: list[list[int]]
    coefficient: list[list[float]] | None = Field(
        description="n(a and b) / (n(a) + n(b) - n(a and b)), for window 0 (None otherwise)."
    )


def cooccurrence(
    placements: Sequence[Placement], codes: Sequence[tuple[str, str]], window: int
) -> CooccurrenceReport:
    """The co-occurrence of ``codes`` (id, name; the table's order) from the codings' ``placements``."""
    coded: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for placement in placements:
        coded[placement.code_id].add((placement.source_id, placement.position))
    ids = [code_id for code_id, _name in codes]
    together = [[_near(coded[a], coded[b], window) for b in ids] for a in ids]
    coefficient = None
    if window == 0:
        coefficient = [
            [_c_coefficient(together[i][i], together[j][j], together[i][j]) for j in range(len(ids))]
            for i in range(len(ids))
        ]
    return CooccurrenceReport(
        window=window,
        code_ids=ids,
        codes=[name for _id, name in codes],
        together=together,
        coefficient=coefficient,
    )


def _near(first: set[tuple[str, int]], second: set[tuple[str, int]], window: int) -> int:
    """How many segments of ``first`` have a segment of ``second`` at most ``window`` segments away."""
    return sum(
        any((source, position + offset) in second for offset in range(-window, window + 1))
        for source, position in first
    )


def _c_coefficient(first: int, second: int, both: int) -> float:
    union = first + second - both
    return both / union if union else 0.0
