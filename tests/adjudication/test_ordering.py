"""Review order: the least certain segments (smallest margin between the top two suggestions) first."""

from __future__ import annotations

import pytest

from services.adjudication.ordering import margin, uncertain_first


@pytest.mark.parametrize(
    ("confidences", "expected"),
    [([], 0.0), ([0.7], 0.7), ([0.9, 0.6], 0.3), ([0.2, 0.9, 0.5], 0.4), ([0.5, 0.5], 0.0)],
)
def test_margin_is_the_top_confidence_minus_the_second(confidences: list[float], expected: float) -> None:
    assert margin(confidences) == pytest.approx(expected)


def test_uncertain_first_orders_by_ascending_margin_and_keeps_ties_in_source_order() -> None:
    confidences = {"a": [0.75, 0.25], "b": [0.5, 0.375], "c": [0.5], "d": [0.75, 0.5], "e": [0.25, 0.25]}
    assert uncertain_first(["a", "b", "c", "d", "e"], confidences) == ["e", "b", "d", "a", "c"]


def test_segments_without_suggestions_count_as_least_certain_in_their_order() -> None:
    assert uncertain_first(["x", "a", "y"], {"a": [0.4, 0.1]}) == ["x", "y", "a"]
