"""Axial grouping against a published hierarchy: seed 002's 128 sub-themes under 23 main themes.

The sub-theme texts are the codes (123 distinct: 5 are listed under two themes, and count under the first
one listed); the paper has no transcripts, so the grouping uses meaning only (no co-occurrence). The
numbers are set beside chance: the same group sizes with the codes shuffled among them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from pydantic import Field

from eval.seeds import Dimension
from groundcode.domain import Code, Model
from services.analysis.axial import Agreement, AxialOptions, agreement, propose

CHANCE_SHUFFLES = 200


class BenchmarkRow(Model):
    options: AxialOptions
    result: Agreement
    chance_ari: float = Field(description="Mean ARI of the same group sizes, codes shuffled.")
    chance_nmi: float


def first_themes(dimensions: Sequence[Dimension]) -> dict[str, str]:
    """Sub-theme text -> the first main theme it is listed under, in table order."""
    found: dict[str, str] = {}
    for dimension in dimensions:
        for theme in dimension.themes:
            for sub_theme in theme.sub_themes:
                found.setdefault(sub_theme, theme.name)
    return found


def run(
    reference: dict[str, str],
    vectors: Sequence[Sequence[float]],
    settings: Sequence[AxialOptions],
    seed: int = 0,
) -> list[BenchmarkRow]:
    """Group the reference's codes (one vector each, in the reference's order) with each of ``settings``."""
    codes = [Code(id=str(index), name=text) for index, text in enumerate(reference)]
    gold = list(reference.values())
    rows = []
    for options in settings:
        proposal = propose(codes, vectors, [], options)
        group_of = {
            code_id: number for number, group in enumerate(proposal.groups) for code_id in group.code_ids
        }
        predicted = [group_of[code.id] for code in codes]
        shuffled = random.Random(seed)
        chance = []
        for _ in range(CHANCE_SHUFFLES):
            labels = predicted[:]
            shuffled.shuffle(labels)
            chance.append(agreement(gold, labels))
        rows.append(
            BenchmarkRow(
                options=options,
                result=agreement(gold, predicted),
                chance_ari=round(sum(c.adjusted_rand_index for c in chance) / CHANCE_SHUFFLES, 4),
                chance_nmi=round(sum(c.normalized_mutual_information for c in chance) / CHANCE_SHUFFLES, 4),
            )
        )
    return rows
