"""Offline deductive scoring, calibration and the decision-trained classifier. Pure (numpy only).

Embedding similarities are bunched (with E5, unrelated texts score ~0.8), so a fixed cosine cutoff
means nothing. Scores are therefore made *relative*: a softmax over the segment's own candidates,
with a temperature on the similarity scale, blended with a similarity-weighted vote of the nearest
already-coded segments (kNN). Once researchers have decided on enough suggestions, the raw score is
calibrated (Platt scaling) and a per-code logistic regression on segment embeddings joins the blend.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from groundcode.domain import Model
from services.suggestion.models import CandidateCode, Exemplar

Vector = NDArray[np.float64]

TEMPERATURE = 0.01
"""Softmax temperature on the cosine scale: a candidate 0.01 closer weighs e times more."""
NONE_FITS_Z = -1.5
"""A segment whose best candidate fits this many standard deviations worse than the batch's gets none."""
MIN_CALIBRATION_DECISIONS = 30
"""Decisions (with both outcomes present) needed before confidences are calibrated."""
MIN_CLASSIFIER_DECISIONS = 10
"""Decisions on one code (with both outcomes present) needed before its classifier is trained."""


class ScoredCode(Model):
    """One candidate's evidence and raw (uncalibrated) score, for ranking and the rationale."""

    code_id: str
    similarity_rank: int = Field(ge=1)
    retrieval: float = Field(ge=0.0, le=1.0)  # softmax share among the candidates
    votes: int = Field(ge=0)  # how many similar coded segments carry the code
    knn: float = Field(ge=0.0, le=1.0)  # similarity-weighted share of their votes
    raw: float = Field(ge=0.0, le=1.0)


def softmax(scores: Sequence[float], temperature: float = TEMPERATURE) -> list[float]:
    """Shares that sum to 1: relative closeness, independent of where the similarities are bunched."""
    values = np.asarray(scores, dtype=np.float64) / temperature
    weights = np.exp(values - values.max())
    return [float(w) for w in weights / weights.sum()]


def score_candidates(
    candidates: Sequence[CandidateCode],
    exemplars: Sequence[Exemplar],
    *,
    temperature: float = TEMPERATURE,
) -> list[ScoredCode]:
    """Every candidate's raw score, best first: the retrieval share, blended half and half with the kNN
    vote share when any exemplar votes for a candidate (ties keep the retrieval order)."""
    by_similarity = sorted(candidates, key=lambda c: -(c.score or 0.0))
    retrieval = softmax([c.score or 0.0 for c in by_similarity], temperature)
    voters = [e for e in exemplars if e.code_ids]
    weights = softmax([e.score or 0.0 for e in voters], temperature) if voters else []
    knn = {c.code_id: 0.0 for c in by_similarity}
    votes = dict.fromkeys(knn, 0)
    for exemplar, weight in zip(voters, weights, strict=True):
        for code_id in set(exemplar.code_ids) & knn.keys():
            knn[code_id] += weight
            votes[code_id] += 1
    blend = 0.5 if any(votes.values()) else 0.0
    scored = [
        ScoredCode(
            code_id=candidate.code_id,
            similarity_rank=rank,
            retrieval=share,
            votes=votes[candidate.code_id],
            knn=min(1.0, knn[candidate.code_id]),
            raw=min(1.0, (1 - blend) * share + blend * knn[candidate.code_id]),
        )
        for rank, (candidate, share) in enumerate(zip(by_similarity, retrieval, strict=True), start=1)
    ]
    return sorted(scored, key=lambda s: -s.raw)


def keep_top(scored: Sequence[ScoredCode], *, limit: int, relative: float = 0.5) -> list[ScoredCode]:
    """At most ``limit`` codes, each scoring at least ``relative`` times the best one."""
    if not scored:
        return []
    floor = scored[0].raw * relative
    return [s for s in scored[:limit] if s.raw >= floor]


def fit_z_scores(best_similarities: Sequence[float], *, min_segments: int = 20) -> list[float]:
    """How well each segment's best candidate fits compared with the other segments of the batch
    (z-scores of their best similarities); all zero when the batch is too small to compare."""
    values = np.asarray(best_similarities, dtype=np.float64)
    spread = float(values.std()) if len(values) >= min_segments else 0.0
    if spread == 0.0:
        return [0.0] * len(values)
    return [float(z) for z in (values - values.mean()) / spread]


# Decisions: what researchers accepted or rejected, and what is learnt from them.


class DecisionExample(Model):
    """One adjudicated suggestion: the segment's embedding, the code, the verdict, and the raw score the
    suggestion had (what calibration maps to a probability)."""

    embedding: list[float]
    code_id: str
    accepted: bool
    raw_score: float = Field(ge=0.0, le=1.0)


class DecisionHistory(Protocol):
    """The project's decisions so far (provided by the adjudication service)."""

    def examples(self, project_id: str) -> list[DecisionExample]: ...


class Logistic(Model):
    """``p = sigmoid(weights . x + bias)``."""

    weights: list[float]
    bias: float

    def probability(self, features: Sequence[float]) -> float:
        return float(_sigmoid(np.dot(np.asarray(self.weights), np.asarray(features)) + self.bias))


def fit_logistic(
    features: Sequence[Sequence[float]], targets: Sequence[float], *, l2: float = 1.0, iterations: int = 100
) -> Logistic:
    """L2-regularised logistic regression by Newton's method (the bias is not regularised); ``targets``
    are 0/1 outcomes or soft targets in [0, 1]. Deterministic: no random start, no sampling."""
    x = np.hstack([np.asarray(features, dtype=np.float64), np.ones((len(targets), 1))])
    y = np.asarray(targets, dtype=np.float64)
    penalty = np.eye(x.shape[1]) * l2
    penalty[-1, -1] = 0.0
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = _sigmoid(x @ w)
        hessian = (x.T * (p * (1 - p))) @ x + penalty + np.eye(x.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, x.T @ (p - y) + penalty @ w)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return Logistic(weights=[float(v) for v in w[:-1]], bias=float(w[-1]))


def fit_platt(raw_scores: Sequence[float], accepted: Sequence[bool]) -> Logistic:
    """Platt scaling: a one-feature logistic regression from raw score to P(accepted), fitted on Platt's
    smoothed targets so that a few decisions cannot produce certainty."""
    positives = sum(accepted)
    negatives = len(accepted) - positives
    targets = [(positives + 1) / (positives + 2) if a else 1 / (negatives + 2) for a in accepted]
    return fit_logistic([[s] for s in raw_scores], targets, l2=0.0)


class DecisionModel(Model):
    """What has been learnt from the decisions: a calibrator and per-code classifiers (either may be
    missing while there are too few decisions)."""

    decisions: int = 0
    calibrator: Logistic | None = None
    classifiers: dict[str, Logistic] = Field(default_factory=dict)

    def adjust(self, code_id: str, raw: float, embedding: Sequence[float] | None) -> tuple[float, float]:
        """``(pre-calibration score, confidence)``: the raw score averaged with the code's classifier
        (when there is one and an embedding), then calibrated (when there is a calibrator)."""
        classifier = self.classifiers.get(code_id)
        if classifier is not None and embedding is not None:
            raw = (raw + classifier.probability(embedding)) / 2
        confidence = self.calibrator.probability([raw]) if self.calibrator is not None else raw
        return raw, confidence


def learn_from_decisions(
    examples: Sequence[DecisionExample],
    *,
    min_calibration: int = MIN_CALIBRATION_DECISIONS,
    min_classifier: int = MIN_CLASSIFIER_DECISIONS,
) -> DecisionModel:
    """Fit what the decisions allow; with too few (or only one outcome) the part is left out."""
    calibrator = None
    if len(examples) >= min_calibration and _both_outcomes(examples):
        calibrator = fit_platt([e.raw_score for e in examples], [e.accepted for e in examples])
    by_code: dict[str, list[DecisionExample]] = {}
    for example in examples:
        by_code.setdefault(example.code_id, []).append(example)
    classifiers = {
        code_id: fit_logistic([e.embedding for e in group], [float(e.accepted) for e in group])
        for code_id, group in by_code.items()
        if len(group) >= min_classifier and _both_outcomes(group)
    }
    return DecisionModel(decisions=len(examples), calibrator=calibrator, classifiers=classifiers)


def log_loss(probabilities: Sequence[float], outcomes: Sequence[bool]) -> float:
    """Mean negative log-likelihood (lower is better), probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-6, 1 - 1e-6)
    y = np.asarray(outcomes, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _both_outcomes(examples: Sequence[DecisionExample]) -> bool:
    return len({e.accepted for e in examples}) == 2


def _sigmoid(z: Vector | float) -> Vector:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -500, 500))), dtype=np.float64)
