"""Learning from decisions: Platt calibration and per-code classifiers, on synthetic decisions."""

from __future__ import annotations

import numpy as np

from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.offline import OfflineBackend
from services.suggestion.scoring import (
    DecisionExample,
    learn_from_decisions,
    log_loss,
)
from tests.suggestion.offline_support import scored_requests


def synthetic_decisions(count: int, seed: int, *, dimension: int = 8) -> list[DecisionExample]:
    """Researchers accept a suggestion more often the higher its raw score, but not as often as the raw
    score claims (over-confident), and according to a direction in embedding space."""
    rng = np.random.default_rng(seed)
    direction = np.ones(dimension) / np.sqrt(dimension)
    examples = []
    for _ in range(count):
        raw = float(rng.uniform(0, 1))
        embedding = rng.normal(size=dimension)
        p_raw = 1 / (1 + np.exp(-8 * (raw - 0.7)))
        p_embedding = 1 / (1 + np.exp(-3 * float(embedding @ direction)))
        accepted = bool(rng.uniform() < (p_raw + p_embedding) / 2)
        examples.append(
            DecisionExample(embedding=embedding.tolist(), code_id="budget", accepted=accepted, raw_score=raw)
        )
    return examples


def test_too_few_decisions_leave_scores_uncalibrated() -> None:
    model = learn_from_decisions(synthetic_decisions(20, seed=1))
    assert model.calibrator is None and model.decisions == 20
    assert model.adjust("trust", 0.42, None) == (0.42, 0.42)
    assert learn_from_decisions([]).classifiers == {}


def test_calibration_beats_the_raw_score_on_held_out_decisions() -> None:
    train, test = synthetic_decisions(400, seed=2), synthetic_decisions(400, seed=3)
    model = learn_from_decisions(train)
    assert model.calibrator is not None

    outcomes = [e.accepted for e in test]
    raw_loss = log_loss([e.raw_score for e in test], outcomes)
    calibrated_loss = log_loss([model.calibrator.probability([e.raw_score]) for e in test], outcomes)

    assert calibrated_loss < raw_loss - 0.05


def test_the_classifier_learns_what_researchers_accept() -> None:
    train, test = synthetic_decisions(400, seed=4), synthetic_decisions(400, seed=5)
    model = learn_from_decisions(train)
    classifier = model.classifiers["budget"]

    outcomes = [e.accepted for e in test]
    calibrated_only = [model.calibrator.probability([e.raw_score]) for e in test]  # type: ignore[union-attr]
    combined = [model.adjust("budget", e.raw_score, e.embedding)[1] for e in test]

    assert log_loss([classifier.probability(e.embedding) for e in test], outcomes) < log_loss(
        [e.raw_score for e in test], outcomes
    )
    assert log_loss(combined, outcomes) < log_loss(calibrated_only, outcomes)
    assert learn_from_decisions(train) == model  # deterministic


async def test_the_backend_says_when_it_is_calibrated(e5: LocalE5Embedder) -> None:
    decisions = [
        e.model_copy(update={"embedding": [0.0] * 384})
        for e in synthetic_decisions(60, seed=6, dimension=384)
    ]
    requests = scored_requests(e5, ["The budget was cut again this year."])

    (answer,) = await OfflineBackend(e5, learn_from_decisions(decisions)).suggest(requests)

    top = answer.suggestions[0]
    assert top.provenance["calibrated"] is True and top.provenance["decisions"] == 60
    assert top.provenance["classifier"] is True
    assert 0.0 <= top.confidence <= 1.0
