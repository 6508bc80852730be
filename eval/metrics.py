"""Accuracy, agreement, calibration and coverage metrics: pure functions over labels, no I/O.

Conventions: a label is a code name; ``None`` is a missing rating (a coder who did not rate a unit, or a
model that abstained). Agreement coefficients take ``ratings`` as one sequence per coder, aligned by unit,
so the same functions score a model against a human now and humans against each other later. A value
that is undefined for the data (kappa when both coders used a single category) is ``nan``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from itertools import combinations
from typing import Annotated, Literal, TypeVar

import krippendorff
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, BeforeValidator, ConfigDict
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer

Label = str
Rating = Label | None
_T = TypeVar("_T")
NO_PREDICTION = "(none)"
"""The label a unit the model abstained on gets in confusion matrices."""


Number = Annotated[float, BeforeValidator(lambda value: math.nan if value is None else value)]
"""A float that may be nan (undefined): JSON has no nan, so it is written as null and read back as nan."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Estimate(_Model):
    """A metric's value on all units and its bootstrap confidence interval."""

    value: Number
    low: Number
    high: Number


class CodeScore(_Model):
    code: Label
    precision: Number
    recall: Number
    f1: Number
    support: int  # units whose gold carries the code


class ReliabilityBin(_Model):
    lower: Number
    upper: Number
    count: int
    mean_confidence: Number  # nan for an empty bin
    accuracy: Number


class Calibration(_Model):
    expected_calibration_error: Number
    bins: list[ReliabilityBin]


class Match(_Model):
    """One generated label matched to one published code."""

    generated: int
    published: int
    similarity: Number


class Coverage(_Model):
    threshold: Number
    generated: int
    published: int
    matched: int
    recall: Number  # matched / published
    precision: Number  # matched / generated


# Agreement between coders.


def percent_agreement(ratings: Sequence[Sequence[Rating]]) -> float:
    """The share of agreeing coder pairs per unit, averaged over units rated by two or more coders."""
    counts = _category_counts(ratings, _categories(ratings))
    return _observed_agreement(counts)


def cohen_kappa(first: Sequence[Rating], second: Sequence[Rating]) -> float:
    """Cohen's kappa of two coders over the units both rated."""
    pairs = [(a, b) for a, b in zip(first, second, strict=True) if a is not None and b is not None]
    labels = sorted({label for pair in pairs for label in pair})
    if len(labels) < 2:  # chance agreement is 1: kappa is 0/0
        return math.nan
    return float(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs], labels=labels))


def pairwise_kappa(coders: dict[str, Sequence[Rating]]) -> dict[tuple[str, str], float]:
    """Cohen's kappa of every pair of coders: a model against each human next to the humans' own."""
    return {(a, b): cohen_kappa(coders[a], coders[b]) for a, b in combinations(sorted(coders), 2)}


def krippendorff_alpha(ratings: Sequence[Sequence[Rating]]) -> float:
    """Krippendorff's alpha (nominal) of any number of coders, with missing ratings."""
    values = _categories(ratings)
    pairable = any(sum(rating is not None for rating in unit) >= 2 for unit in zip(*ratings, strict=True))
    if len(values) < 2 or not pairable:  # no variation, or no unit two coders rated: 0/0
        return math.nan
    index = {value: position for position, value in enumerate(values)}
    data = np.array(
        [[math.nan if rating is None else index[rating] for rating in coder] for coder in ratings],
        dtype=float,
    )
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 without pairable variation: nan
        return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def gwet_ac1(ratings: Sequence[Sequence[Rating]], categories: Sequence[Label] | None = None) -> float:
    """Gwet's AC1 of any number of coders, with missing ratings (Gwet 2008; as irrCAC's gwet.ac1.raw).

    ``categories`` are all the categories coders could choose (default: those used); their number
    sets the chance agreement.
    """
    chosen = list(categories) if categories is not None else _categories(ratings)
    counts = _category_counts(ratings, chosen)
    counts = counts[counts.sum(axis=1) > 0]
    observed = _observed_agreement(counts)
    if math.isnan(observed):
        return math.nan
    shares = (counts / counts.sum(axis=1, keepdims=True)).mean(axis=0)
    kinds = len(chosen)
    chance = float((shares * (1 - shares)).sum() / (kinds - 1)) if kinds >= 2 else 0.0
    return (observed - chance) / (1 - chance)


def _categories(ratings: Sequence[Sequence[Rating]]) -> list[Label]:
    return sorted({rating for coder in ratings for rating in coder if rating is not None})


def _category_counts(ratings: Sequence[Sequence[Rating]], categories: Sequence[Label]) -> NDArray[np.float64]:
    """Units x categories: how many coders put each unit in each category."""
    index = {category: position for position, category in enumerate(categories)}
    units = len(ratings[0]) if ratings else 0
    counts = np.zeros((units, len(categories)))
    for coder in ratings:
        for unit, rating in enumerate(coder):
            if rating is None:
                continue
            if rating not in index:
                raise ValueError(f"rating {rating!r} is not one of the categories")
            counts[unit, index[rating]] += 1
    return counts


def _observed_agreement(counts: NDArray[np.float64]) -> float:
    rated = counts.sum(axis=1)
    paired = rated >= 2
    if not paired.any():
        return math.nan
    agreeing = (counts[paired] * (counts[paired] - 1)).sum(axis=1)
    return float((agreeing / (rated[paired] * (rated[paired] - 1))).mean())


# A model's predictions against gold labels.


def accuracy(gold: Sequence[Collection[Label]], predicted: Sequence[Rating]) -> float:
    """The share of units whose prediction is one of its gold labels (an abstention is wrong)."""
    return float(np.mean([label in labels for labels, label in zip(gold, predicted, strict=True)]))


def top_k_recall(gold: Sequence[Collection[Label]], ranked: Sequence[Sequence[Label]], k: int) -> float:
    """The share of each unit's gold labels among its ``k`` best-ranked predictions, averaged over units."""
    return float(
        np.mean(
            [
                len(set(labels) & set(best[:k])) / len(labels)
                for labels, best in zip(gold, ranked, strict=True)
            ]
        )
    )


def majority_accuracy(gold: Sequence[Collection[Label]]) -> float:
    """The accuracy of always answering the code most units carry: the baseline a model must beat."""
    counts = Counter(label for labels in gold for label in set(labels))
    return counts.most_common(1)[0][1] / len(gold) if counts else math.nan


def resolve_gold(gold: Sequence[Collection[Label]], predicted: Sequence[Rating]) -> list[Label]:
    """One gold label per unit for single-label scores: the one predicted if it is gold, else the first."""
    return [
        label if label is not None and label in labels else sorted(labels)[0]
        for labels, label in zip(gold, predicted, strict=True)
    ]


def f1(
    gold: Sequence[Label],
    predicted: Sequence[Label],
    labels: Sequence[Label],
    average: Literal["micro", "macro"],
) -> float:
    """F1 over ``labels`` (predictions of other labels, such as abstentions, count as misses)."""
    return float(f1_score(gold, predicted, labels=list(labels), average=average, zero_division=0))


def per_code_scores(
    gold: Sequence[Label], predicted: Sequence[Label], labels: Sequence[Label]
) -> list[CodeScore]:
    """Precision, recall and F1 of each code."""
    precision, recall, score, support = precision_recall_fscore_support(
        gold, predicted, labels=list(labels), zero_division=0
    )
    return _code_scores(labels, precision, recall, score, support)


def multilabel_scores(
    gold: Sequence[Collection[Label]], predicted: Sequence[Collection[Label]], labels: Sequence[Label]
) -> list[CodeScore]:
    """Per-label precision, recall and F1 when a unit may carry several gold (and predicted) labels."""
    precision, recall, score, support = precision_recall_fscore_support(
        *_binarized(gold, predicted, labels), zero_division=0
    )
    return _code_scores(labels, precision, recall, score, support)


def multilabel_f1(
    gold: Sequence[Collection[Label]],
    predicted: Sequence[Collection[Label]],
    labels: Sequence[Label],
    average: Literal["micro", "macro"],
) -> float:
    """F1 over ``labels`` when a unit may carry several gold (and predicted) labels."""
    return float(f1_score(*_binarized(gold, predicted, labels), average=average, zero_division=0))


def _binarized(
    gold: Sequence[Collection[Label]], predicted: Sequence[Collection[Label]], labels: Sequence[Label]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    binarizer = MultiLabelBinarizer(classes=list(labels))
    return binarizer.fit_transform([set(item) for item in gold]), binarizer.transform(
        [set(item) for item in predicted]
    )


def _code_scores(labels: Sequence[Label], *columns: NDArray[np.float64]) -> list[CodeScore]:
    precision, recall, score, support = columns
    return [
        CodeScore(
            code=label,
            precision=float(precision[i]),
            recall=float(recall[i]),
            f1=float(score[i]),
            support=int(support[i]),
        )
        for i, label in enumerate(labels)
    ]


def confusion(gold: Sequence[Label], predicted: Sequence[Label], labels: Sequence[Label]) -> list[list[int]]:
    """Counts of (gold row, predicted column) over ``labels``."""
    matrix = confusion_matrix(gold, predicted, labels=list(labels))
    return [[int(count) for count in row] for row in matrix]


def calibration(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> Calibration:
    """Expected calibration error and equal-width reliability bins over [0, 1]."""
    values = np.asarray(confidences, dtype=float)
    hits = np.asarray(correct, dtype=float)
    which = np.minimum((values * bins).astype(int), bins - 1)
    found = []
    error = 0.0
    for position in range(bins):
        inside = which == position
        count = int(inside.sum())
        mean_confidence = float(values[inside].mean()) if count else math.nan
        share_correct = float(hits[inside].mean()) if count else math.nan
        if count:
            error += count / len(values) * abs(share_correct - mean_confidence)
        found.append(
            ReliabilityBin(
                lower=position / bins,
                upper=(position + 1) / bins,
                count=count,
                mean_confidence=mean_confidence,
                accuracy=share_correct,
            )
        )
    return Calibration(expected_calibration_error=error if len(values) else math.nan, bins=found)


# Spans and open coding.


def span_iou(first: Sequence[tuple[int, int]], second: Sequence[tuple[int, int]]) -> float:
    """Character overlap of two sets of ``[start, end)`` spans, intersection over union (nan: both empty)."""
    a, b = _merged(first), _merged(second)
    union = sum(end - start for start, end in _merged([*a, *b]))
    if union == 0:
        return math.nan
    overlap = sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)
    return overlap / union


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(span for span in spans if span[1] > span[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def one_to_one_matches(similarity: NDArray[np.float64], threshold: float) -> list[Match]:
    """Generated labels (rows) matched to published codes (columns), each used at most once (Hungarian).

    Pairs below ``threshold`` weigh nothing, so the assignment maximises the similarity of the pairs that
    can count, and only those are kept.
    """
    weights = np.where(similarity >= threshold, similarity, 0.0)
    rows, columns = linear_sum_assignment(weights, maximize=True)
    return [
        Match(generated=int(row), published=int(column), similarity=float(similarity[row, column]))
        for row, column in zip(rows, columns, strict=True)
        if similarity[row, column] >= threshold
    ]


def coverage(similarity: NDArray[np.float64], threshold: float) -> Coverage:
    """How many published codes (columns) the generated labels (rows) recover at ``threshold``."""
    generated, published = similarity.shape
    matched = len(one_to_one_matches(similarity, threshold))
    return Coverage(
        threshold=threshold,
        generated=generated,
        published=published,
        matched=matched,
        recall=matched / published if published else math.nan,
        precision=matched / generated if generated else math.nan,
    )


# Confidence intervals.


def bootstrap(
    statistic: Callable[[Sequence[int]], float],
    units: int,
    *,
    seed: int,
    resamples: int = 1000,
    level: float = 0.95,
) -> Estimate:
    """``statistic`` on all units (given their indices) and its percentile bootstrap interval over units.

    Resamples where the statistic is undefined (nan) are left out of the interval.
    """
    value = statistic(list(range(units)))
    if units == 0:
        return Estimate(value=value, low=math.nan, high=math.nan)
    generator = np.random.default_rng(seed)
    samples = np.array([statistic(list(generator.integers(0, units, units))) for _ in range(resamples)])
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return Estimate(value=value, low=math.nan, high=math.nan)
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return Estimate(value=value, low=float(low), high=float(high))


# Everything about one model's code assignments.


class AssignmentScores(_Model):
    """The scores of a model that gives each unit a ranked list of codes, against gold label sets.

    Single-label scores use the model's best code; a unit with several gold labels counts as right when
    the best code is any of them. Agreement coefficients treat the model and the gold as two coders and
    leave out units the model abstained on; accuracy counts those as wrong.
    """

    units: int
    predicted: int  # units the model gave at least one code
    accuracy: Estimate
    majority_accuracy: Number  # always answering the most frequent gold code
    top_k_recall: dict[int, Estimate]
    micro_f1: Estimate
    macro_f1: Estimate
    cohen_kappa: Estimate
    krippendorff_alpha: Estimate
    gwet_ac1: Estimate
    per_code: list[CodeScore]
    multilabel_per_code: list[CodeScore]  # the best code as a one-element set against the gold set
    multilabel_micro_f1: Number
    multilabel_macro_f1: Number
    confusion_labels: list[Label]
    confusion: list[list[int]]  # rows: gold, columns: predicted
    calibration: Calibration  # of the best code's confidence


def score_assignment(
    gold: Sequence[Collection[Label]],
    ranked: Sequence[Sequence[Label]],
    top_confidence: Sequence[float | None],
    labels: Sequence[Label],
    *,
    seed: int,
    resamples: int = 1000,
    ks: Sequence[int] = (1, 3),
) -> AssignmentScores:
    """Every score of ranked code predictions, each with its bootstrap interval (same resamples for all)."""
    if not gold:
        raise ValueError("there are no units to score")
    top = [best[0] if best else None for best in ranked]
    resolved = resolve_gold(gold, top)
    shown = [label or NO_PREDICTION for label in top]

    def interval(statistic: Callable[[Sequence[int]], float]) -> Estimate:
        return bootstrap(statistic, len(gold), seed=seed, resamples=resamples)

    def recall_at(k: int) -> Callable[[Sequence[int]], float]:
        return lambda units: top_k_recall(_pick(gold, units), _pick(ranked, units), k)

    made = [unit for unit, label in enumerate(top) if label is not None]
    top_sets = [[label] if label else [] for label in top]
    confusion_labels = [*labels, NO_PREDICTION] if len(made) < len(top) else list(labels)
    return AssignmentScores(
        units=len(gold),
        predicted=len(made),
        accuracy=interval(lambda units: accuracy(_pick(gold, units), _pick(top, units))),
        majority_accuracy=majority_accuracy(gold),
        top_k_recall={k: interval(recall_at(k)) for k in ks},
        micro_f1=interval(lambda units: f1(_pick(resolved, units), _pick(shown, units), labels, "micro")),
        macro_f1=interval(lambda units: f1(_pick(resolved, units), _pick(shown, units), labels, "macro")),
        cohen_kappa=interval(lambda units: cohen_kappa(_pick(resolved, units), _pick(top, units))),
        krippendorff_alpha=interval(
            lambda units: krippendorff_alpha([_pick(resolved, units), _pick(top, units)])
        ),
        gwet_ac1=interval(lambda units: gwet_ac1([_pick(resolved, units), _pick(top, units)], labels)),
        per_code=per_code_scores(resolved, shown, labels),
        multilabel_per_code=multilabel_scores(gold, top_sets, labels),
        multilabel_micro_f1=multilabel_f1(gold, top_sets, labels, "micro"),
        multilabel_macro_f1=multilabel_f1(gold, top_sets, labels, "macro"),
        confusion_labels=confusion_labels,
        confusion=confusion(resolved, shown, confusion_labels),
        calibration=calibration(
            [top_confidence[unit] or 0.0 for unit in made], [top[unit] in gold[unit] for unit in made]
        ),
    )


def _pick(values: Sequence[_T], units: Sequence[int]) -> list[_T]:
    return [values[unit] for unit in units]
