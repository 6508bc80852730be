"""The metrics against published worked examples, hand-computed cases, and degenerate data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.metrics import (
    NO_PREDICTION,
    accuracy,
    bootstrap,
    calibration,
    cohen_kappa,
    confusion,
    coverage,
    f1,
    gwet_ac1,
    krippendorff_alpha,
    majority_accuracy,
    multilabel_f1,
    multilabel_scores,
    one_to_one_matches,
    pairwise_kappa,
    per_code_scores,
    percent_agreement,
    resolve_gold,
    score_assignment,
    span_iou,
    top_k_recall,
)


def _coder(values: list[int | None]) -> list[str | None]:
    return [None if value is None else str(value) for value in values]


N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", example C: 4 observers, 12 units, nominal
# values 1-5, missing values. The irrCAC package ships the same data as cac.raw4raters (Gwet 2014).
FOUR_CODERS = [
    _coder([1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N]),
    _coder([1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3]),
    _coder([N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N]),
    _coder([1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]),
]
# irrCAC's cont3x3abstractors: two abstractors, 100 units, rows rater A, columns rater B.
ABSTRACTORS_TABLE = {
    ("Ectopic", "Ectopic"): 13,
    ("AIU", "AIU"): 20,
    ("AIU", "NIU"): 7,
    ("NIU", "AIU"): 4,
    ("NIU", "NIU"): 56,
}


def _from_table(table: dict[tuple[str, str], int]) -> tuple[list[str | None], list[str | None]]:
    pairs = [pair for pair, count in table.items() for _ in range(count)]
    return [a for a, _ in pairs], [b for _, b in pairs]


def test_krippendorffs_own_example_with_missing_data_gives_alpha_0_743() -> None:
    assert krippendorff_alpha(FOUR_CODERS) == pytest.approx(0.743, abs=5e-4)


def test_gwets_ac1_and_percent_agreement_match_irrcac_on_the_same_example() -> None:
    # irrCAC vignette: gwet.ac1.raw(cac.raw4raters): pa 0.8181818, AC1 0.77544.
    assert percent_agreement(FOUR_CODERS) == pytest.approx(0.8181818, abs=1e-7)
    assert gwet_ac1(FOUR_CODERS) == pytest.approx(0.77544, abs=5e-6)


def test_two_rater_coefficients_match_irrcac_on_cont3x3abstractors() -> None:
    rater_a, rater_b = _from_table(ABSTRACTORS_TABLE)

    assert cohen_kappa(rater_a, rater_b) == pytest.approx(0.7964094, abs=1e-7)
    assert gwet_ac1([rater_a, rater_b]) == pytest.approx(0.8493305, abs=1e-7)
    assert krippendorff_alpha([rater_a, rater_b]) == pytest.approx(0.7972585, abs=1e-7)
    assert percent_agreement([rater_a, rater_b]) == pytest.approx(0.89)


def test_cohens_kappa_textbook_example() -> None:
    # 50 grant proposals, two readers: yes/yes 20, yes/no 5, no/yes 10, no/no 15: po 0.7, pe 0.5, kappa 0.4.
    first, second = _from_table({("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15})

    assert cohen_kappa(first, second) == pytest.approx(0.4)


def test_coders_who_always_agree_on_several_categories_score_one() -> None:
    ratings = [["a", "b", "c", "a"], ["a", "b", "c", "a"], ["a", "b", "c", "a"]]

    assert cohen_kappa(ratings[0], ratings[1]) == pytest.approx(1.0)
    assert krippendorff_alpha(ratings) == pytest.approx(1.0)
    assert gwet_ac1(ratings) == pytest.approx(1.0)


def test_coders_who_never_rate_the_same_unit_have_no_agreement_to_measure() -> None:
    ratings = [["a", None, "b"], [None, "b", None]]

    assert math.isnan(cohen_kappa(ratings[0], ratings[1]))
    assert math.isnan(krippendorff_alpha(ratings))
    assert math.isnan(gwet_ac1(ratings))


def test_a_single_category_leaves_kappa_and_alpha_undefined_but_not_ac1() -> None:
    ratings = [["a", "a", "a"], ["a", "a", "a"]]

    assert math.isnan(cohen_kappa(ratings[0], ratings[1]))  # chance agreement is 1
    assert math.isnan(krippendorff_alpha(ratings))  # no variation to disagree about
    assert gwet_ac1(ratings) == pytest.approx(1.0)
    assert gwet_ac1(ratings, categories=["a", "b"]) == pytest.approx(1.0)


def test_missing_ratings_are_left_out() -> None:
    first = ["a", "b", None, "a", "b"]
    second = ["a", "b", "b", None, "a"]

    # Only units 0, 1 and 4 are rated by both: a a, b b, b a.
    assert cohen_kappa(first, second) == pytest.approx(cohen_kappa(["a", "b", "b"], ["a", "b", "a"]))
    # AC1 as irrCAC computes it: agreement over units rated twice (2 of 3), category shares over every
    # rated unit (a 0.5, b 0.5), so chance agreement 0.5 and AC1 (2/3 - 0.5) / 0.5.
    assert gwet_ac1([first, second]) == pytest.approx(1 / 3)
    assert math.isnan(cohen_kappa([None, "a"], ["b", None]))
    assert math.isnan(gwet_ac1([[None, "a"], ["b", None]]))  # no unit has two ratings
    with pytest.raises(ValueError, match="not one of the categories"):
        gwet_ac1([["a"], ["c"]], categories=["a", "b"])


def test_pairwise_kappa_puts_each_pair_of_coders_side_by_side() -> None:
    coders = {"model": ["a", "b", "a", "b"], "ana": ["a", "b", "a", "b"], "ben": ["a", "a", "b", "b"]}

    found = pairwise_kappa(coders)

    assert set(found) == {("ana", "ben"), ("ana", "model"), ("ben", "model")}
    assert found[("ana", "model")] == pytest.approx(1.0)
    assert found[("ana", "ben")] == pytest.approx(0.0)


def test_accuracy_and_top_k_recall_credit_any_of_several_gold_labels() -> None:
    gold = [{"x"}, {"x", "y"}, {"z"}, {"y"}]
    ranked = [["x", "y"], ["y", "z"], ["x", "z"], []]

    assert accuracy(gold, [best[0] if best else None for best in ranked]) == pytest.approx(0.5)
    assert top_k_recall(gold, ranked, 1) == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert top_k_recall(gold, ranked, 2) == pytest.approx((1 + 0.5 + 1 + 0) / 4)
    assert resolve_gold(gold, ["x", "y", "x", None]) == ["x", "y", "z", "y"]
    assert majority_accuracy(gold) == pytest.approx(2 / 4)  # x and y are each gold for two units
    assert math.isnan(majority_accuracy([]))


def test_f1_scores_by_hand() -> None:
    gold = ["a", "a", "a", "b", "b", "c"]
    predicted = ["a", "a", "b", "b", NO_PREDICTION, "c"]
    labels = ["a", "b", "c"]

    scores = {score.code: score for score in per_code_scores(gold, predicted, labels)}

    assert (scores["a"].precision, scores["a"].recall, scores["a"].support) == (1.0, pytest.approx(2 / 3), 3)
    assert (scores["b"].precision, scores["b"].recall) == (0.5, 0.5)
    assert scores["c"].f1 == 1.0
    assert f1(gold, predicted, labels, "macro") == pytest.approx((0.8 + 0.5 + 1.0) / 3)
    # Micro: 4 right of 5 predictions made (the abstention is no prediction), 4 of 6 gold found.
    assert f1(gold, predicted, labels, "micro") == pytest.approx(2 * 0.8 * (4 / 6) / (0.8 + 4 / 6))
    assert confusion(gold, predicted, [*labels, NO_PREDICTION]) == [
        [2, 1, 0, 0],
        [0, 1, 0, 1],
        [0, 0, 1, 0],
        [0, 0, 0, 0],
    ]


def test_multilabel_scores_count_each_gold_label() -> None:
    gold = [{"x", "y"}, {"x"}, {"y"}]
    predicted = [{"x"}, {"y"}, {"y"}]

    scores = {score.code: score for score in multilabel_scores(gold, predicted, ["x", "y"])}

    assert (scores["x"].precision, scores["x"].recall, scores["x"].support) == (1.0, 0.5, 2)
    assert (scores["y"].precision, scores["y"].recall, scores["y"].support) == (0.5, 0.5, 2)
    assert multilabel_f1(gold, predicted, ["x", "y"], "micro") == pytest.approx(
        2 * (2 / 3) * 0.5 / (2 / 3 + 0.5)
    )


def test_calibration_by_hand() -> None:
    found = calibration([0.9, 0.9, 0.1, 0.1, 1.0], [True, False, False, False, True], bins=10)

    # Bin 0.9-1.0: confidences 0.9, 0.9, 1.0 (1.0 belongs to the last bin), 2 of 3 right; bin 0.1-0.2: 0 of 2.
    assert found.bins[9].count == 3 and found.bins[9].accuracy == pytest.approx(2 / 3)
    assert found.bins[1].count == 2 and found.bins[1].accuracy == 0.0
    expected = 3 / 5 * abs(2 / 3 - 2.8 / 3) + 2 / 5 * 0.1
    assert found.expected_calibration_error == pytest.approx(expected)
    assert math.isnan(found.bins[5].mean_confidence)
    assert calibration([0.7, 0.7], [True, True], bins=5).expected_calibration_error == pytest.approx(0.3)


def test_span_iou_by_hand() -> None:
    assert span_iou([(0, 10)], [(5, 15)]) == pytest.approx(5 / 15)
    assert span_iou([(0, 5), (3, 10)], [(0, 10)]) == pytest.approx(1.0)  # overlapping spans of one side merge
    assert span_iou([(0, 5)], [(5, 10)]) == 0.0
    assert span_iou([(0, 4), (6, 10)], [(2, 8)]) == pytest.approx(4 / 10)
    assert math.isnan(span_iou([], []))


def test_hungarian_matching_finds_more_pairs_than_greedy_choice() -> None:
    similarity = np.array([[0.90, 0.95], [0.10, 0.92], [0.50, 0.60]])

    matches = one_to_one_matches(similarity, threshold=0.9)

    # Greedy would take (0, 1) at 0.95 and leave label 1 unmatched; one to one, both concepts are recovered.
    assert {(m.generated, m.published) for m in matches} == {(0, 0), (1, 1)}
    found = coverage(similarity, 0.9)
    assert (found.matched, found.recall, found.precision) == (2, 1.0, pytest.approx(2 / 3))
    assert coverage(similarity, 0.99).matched == 0
    assert coverage(np.zeros((0, 2)), 0.9).matched == 0


def test_bootstrap_is_seeded_and_brackets_the_value() -> None:
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0]

    def mean(units: list[int]) -> float:
        return float(np.mean([values[unit] for unit in units]))

    first = bootstrap(mean, len(values), seed=3, resamples=200)

    assert first == bootstrap(mean, len(values), seed=3, resamples=200)
    assert first.value == pytest.approx(0.75)
    assert 0.0 <= first.low <= first.value <= first.high <= 1.0
    undefined = bootstrap(lambda units: math.nan, 5, seed=0, resamples=10)
    assert math.isnan(undefined.low) and math.isnan(undefined.high)


def test_score_assignment_puts_it_all_together() -> None:
    gold = [["a"], ["a", "b"], ["b"], ["c"], ["c"]]
    ranked = [["a", "b"], ["b"], ["a", "c"], [], ["c"]]
    confidence = [0.9, 0.8, 0.6, None, 0.7]

    scores = score_assignment(gold, ranked, confidence, ["a", "b", "c"], seed=0, resamples=50)

    assert (scores.units, scores.predicted) == (5, 4)
    assert scores.accuracy.value == pytest.approx(3 / 5)
    assert scores.top_k_recall[3].value == pytest.approx((1 + 0.5 + 0 + 0 + 1) / 5)
    assert scores.confusion_labels == ["a", "b", "c", NO_PREDICTION]
    assert sum(map(sum, scores.confusion)) == 5
    assert scores.cohen_kappa.value == pytest.approx(cohen_kappa(["a", "b", "b", "c"], ["a", "b", "a", "c"]))
    assert sum(item.count for item in scores.calibration.bins) == 4
    with pytest.raises(ValueError, match="no units"):
        score_assignment([], [], [], ["a"], seed=0)
