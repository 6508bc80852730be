"""Scores of set-valued coding, as the literature reports them for multi-label codebooks: pure functions.

A unit's *answer* is the codes a coder sees, best first (``ranked``), and the set flagged as applying
(``predicted``); an empty set means "no code applies", a real answer that every score counts. Gold (and a
human coder's answer) is a set of codes, possibly empty.

* ``top1``: the best code is gold; a unit whose gold is empty is right only when the predicted set is empty;
  no suggestion is a miss.
* ``top3_recall``: the share of each unit's gold codes among its three best, over the units with gold
  (units coded "no code applies" have nothing to recall and are left out).
* ``per_code_kappa``: each code a binary variable ("applied or not") over all units, an abstention counted
  as "not applied"; Cohen's kappa per code, averaged over codes. A code neither coder varied on (never
  applied, or applied everywhere, by both) has no defined kappa: it is left out, and counted.
* ``macro_f1``: F1 per code, averaged over the codes the reference applied somewhere.
* ``alpha``, ``ac1``: Krippendorff's alpha and Gwet's AC1 (nominal) with each unit's *whole set* as one
  category ("no code" included): exact agreement on the unit's coding, the strict unit-level reading of
  Passonneau (2006); on single-label data it is the usual nominal coefficient. Per-code agreement is
  ``per_code_kappa``'s.
* ``abstained``: the share of all units whose predicted set is empty while gold is not.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from functools import partial

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from eval.metrics import Estimate, Label, _pick, bootstrap, gwet_ac1, krippendorff_alpha, top_k_recall

NO_CODE = "(no code)"
"""The category of a unit coded "no code applies" in set-valued alpha and AC1."""

Codes = Collection[Label]
Matrix = NDArray[np.bool_]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Answer(_Model):
    """What a coder (or model) answers for one unit."""

    ranked: list[Label]  # best first; empty: no suggestion
    predicted: list[Label]  # the codes flagged as applying; empty: "no code applies"
    confidences: list[float] = []  # of ``ranked``


# Per unit.


def top1_hits(gold: Sequence[Codes], answers: Sequence[Answer]) -> list[bool]:
    """Per unit: the best code is gold, or gold and the predicted set are both empty."""
    return [
        not answer.predicted if not codes else bool(answer.ranked) and answer.ranked[0] in codes
        for codes, answer in zip(gold, answers, strict=True)
    ]


def top1(gold: Sequence[Codes], answers: Sequence[Answer]) -> float:
    hits = top1_hits(gold, answers)
    return sum(hits) / len(hits) if hits else math.nan


def top3_recall(gold: Sequence[Codes], answers: Sequence[Answer]) -> float:
    """Recall of the gold codes in the three best, over the units with gold (nan: none has)."""
    coded = [unit for unit, codes in enumerate(gold) if codes]
    if not coded:
        return math.nan
    return top_k_recall([gold[u] for u in coded], [answers[u].ranked for u in coded], 3)


def abstained(gold: Sequence[Codes], answers: Sequence[Answer]) -> float:
    """The share of units with gold codes but an empty predicted set."""
    missed = [bool(codes) and not answer.predicted for codes, answer in zip(gold, answers, strict=True)]
    return sum(missed) / len(missed) if missed else math.nan


# Per code, on binary unit x code matrices.


def indicator(sets: Sequence[Codes], codes: Sequence[Label]) -> Matrix:
    """Units x codes: whether each unit's set holds each code (codes outside ``codes`` are ignored)."""
    return np.array([[code in found for code in codes] for found in sets], dtype=bool).reshape(
        len(sets), len(codes)
    )


def binary_kappas(reference: Matrix, other: Matrix) -> NDArray[np.float64]:
    """Cohen's kappa of each column (code) of two units x codes indicators; nan where both are constant
    and equal (chance agreement 1)."""
    observed = (reference == other).mean(axis=0)
    first, second = reference.mean(axis=0), other.mean(axis=0)
    chance = first * second + (1 - first) * (1 - second)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(chance < 1, (observed - chance) / (1 - chance), math.nan)


def per_code_kappa(reference: Matrix, other: Matrix) -> float:
    """The mean of the defined per-code kappas (nan: none is defined, or no units)."""
    if not len(reference):
        return math.nan
    kappas = binary_kappas(reference, other)
    defined = kappas[np.isfinite(kappas)]
    return float(defined.mean()) if defined.size else math.nan


def undefined_kappas(reference: Matrix, other: Matrix) -> int:
    """How many codes ``per_code_kappa`` leaves out: neither coder varied on them."""
    return int(np.isnan(binary_kappas(reference, other)).sum()) if len(reference) else reference.shape[1]


def macro_f1(reference: Matrix, other: Matrix) -> float:
    """F1 per code averaged over the codes the reference applied (as scikit-learn's macro F1 over them)."""
    present = reference.any(axis=0)
    if not present.any():
        return math.nan
    hit = (reference & other).sum(axis=0)[present]
    wrong = (reference ^ other).sum(axis=0)[present]
    return float((2 * hit / (2 * hit + wrong)).mean())


# Per unit set as one category.


def set_label(codes: Codes) -> Label:
    """A unit's set as one nominal category."""
    return "; ".join(sorted(codes)) if codes else NO_CODE


# Everything, with bootstrap intervals.


class Agreement(_Model):
    """Agreement of a coder (or model) with a reference, with 95% bootstrap intervals over units."""

    per_code_kappa: Estimate
    undefined_codes: int  # left out of per_code_kappa: no coder varied on them
    macro_f1: Estimate
    alpha: Estimate
    ac1: Estimate


class AnswerScores(Agreement):
    """A model's answers against gold."""

    top1: Estimate
    top3_recall: Estimate  # over the units with gold codes
    abstained: Estimate


def agreement(
    reference: Sequence[Codes], other: Sequence[Codes], codes: Sequence[Label], *, seed: int, resamples: int
) -> Agreement:
    """``other``'s sets against ``reference``'s, each score with its bootstrap interval (same resamples)."""
    return Agreement(**_agreement(reference, other, codes, seed=seed, resamples=resamples))


def answer_scores(
    gold: Sequence[Codes], answers: Sequence[Answer], codes: Sequence[Label], *, seed: int, resamples: int
) -> AnswerScores:
    """Every score of the answers against gold, each with its bootstrap interval (same resamples)."""
    estimate = partial(bootstrap, units=len(gold), seed=seed, resamples=resamples)
    return AnswerScores(
        **_agreement(gold, [answer.predicted for answer in answers], codes, seed=seed, resamples=resamples),
        top1=estimate(lambda units: top1(_pick(gold, units), _pick(answers, units))),
        top3_recall=estimate(lambda units: top3_recall(_pick(gold, units), _pick(answers, units))),
        abstained=estimate(lambda units: abstained(_pick(gold, units), _pick(answers, units))),
    )


def _agreement(
    reference: Sequence[Codes], other: Sequence[Codes], codes: Sequence[Label], *, seed: int, resamples: int
) -> dict[str, Estimate | int]:
    first, second = indicator(reference, codes), indicator(other, codes)
    labels = [set_label(s) for s in reference], [set_label(s) for s in other]
    estimate = partial(bootstrap, units=len(reference), seed=seed, resamples=resamples)
    return {
        "per_code_kappa": estimate(lambda units: per_code_kappa(first[units], second[units])),
        "undefined_codes": undefined_kappas(first, second),
        "macro_f1": estimate(lambda units: macro_f1(first[units], second[units])),
        "alpha": estimate(
            lambda units: krippendorff_alpha([_pick(labels[0], units), _pick(labels[1], units)])
        ),
        "ac1": estimate(lambda units: gwet_ac1([_pick(labels[0], units), _pick(labels[1], units)])),
    }


def rest_scores(
    gold: Sequence[Codes], answers: Sequence[Answer], codes: Sequence[Label]
) -> tuple[float, float]:
    """``(top1, per_code_kappa)`` of some units' answers: a learning-curve point, no interval."""
    predicted = [answer.predicted for answer in answers]
    return top1(gold, answers), per_code_kappa(indicator(gold, codes), indicator(predicted, codes))
