"""The offline coder's learner on synthetic embeddings: it learns what names do not say, never lets noise
pull the ranking below the prior, and predicts several codes or none as the coder's answers show."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from services.adjudication.learning import rerank_milestone
from services.suggestion.learner import LabelledUnit, LearntCoder, cosine, fit_coder
from services.suggestion.offline import FittedCoders

DIMENSION = 32
CODES = [f"K{i:02d}" for i in range(6)]


def clusters(seed: int) -> NDArray[np.float64]:
    return np.random.default_rng(seed).normal(size=(len(CODES), DIMENSION))


def units_around(
    centres: NDArray[np.float64], labels: list[int], seed: int, spread: float = 0.6
) -> NDArray[np.float64]:
    noise = np.random.default_rng(seed).normal(scale=spread, size=(len(labels), DIMENSION))
    return np.asarray(centres[labels] + noise)


def decided(vectors: NDArray[np.float64], codes: list[set[int]]) -> list[LabelledUnit]:
    return [
        LabelledUnit(embedding=v.tolist(), code_ids=frozenset(CODES[c] for c in found))
        for v, found in zip(vectors, codes, strict=True)
    ]


def top1(probabilities: NDArray[np.float64], labels: list[int]) -> float:
    return float(np.mean(probabilities.argmax(axis=1) == np.asarray(labels)))


def test_codes_whose_names_say_nothing_are_learnt_from_decisions() -> None:
    centres = clusters(1)
    uninformative = np.random.default_rng(2).normal(size=centres.shape)  # code texts unrelated to use
    rng = np.random.default_rng(3)
    train, test = list(rng.integers(0, 6, 40)), list(rng.integers(0, 6, 200))

    coder = fit_coder(CODES, uninformative, decided(units_around(centres, train, 4), [{c} for c in train]))
    held_out = units_around(centres, test, 5)

    prior = top1(LearntCoder(code_ids=CODES).probabilities(held_out, uninformative), test)
    learnt = top1(coder.probabilities(held_out, uninformative), test)
    assert coder.learnt
    assert learnt > 0.9 and learnt > prior + 0.4


def test_a_direction_every_unit_shares_is_taken_away_when_the_decisions_show_it_misleads() -> None:
    # Every unit leans the same way, and so do some code texts more than others: the raw cosine favours
    # those codes for every unit. Centring (decided units' mean, codebook's mean) leaves what matters.
    centres = clusters(20)
    shared = np.random.default_rng(21).normal(size=DIMENSION)
    code_texts = centres + np.linspace(0.0, 1.5, len(CODES))[:, None] * shared
    rng = np.random.default_rng(22)
    train, test = list(rng.integers(0, 6, 20)), list(rng.integers(0, 6, 200))

    leaning = units_around(centres, train, 23, spread=1.0) + 3 * shared
    coder = fit_coder(CODES, code_texts, decided(leaning, [{c} for c in train]))
    held_out = units_around(centres, test, 24, spread=1.0) + 3 * shared

    prior = top1(cosine(held_out, code_texts), test)
    assert coder.learnt and 1 in coder.features  # the centred prior
    assert top1(coder.probabilities(held_out, code_texts), test) > prior + 0.3


def test_noise_labels_never_pull_the_ranking_below_the_prior() -> None:
    centres = clusters(6)
    rng = np.random.default_rng(7)
    true = list(rng.integers(0, 6, 60))
    noise = list(rng.integers(0, 6, 60))  # the coder's labels have nothing to do with the units
    vectors = units_around(centres, true, 8)

    coder = fit_coder(CODES, centres, decided(vectors, [{c} for c in noise]))
    test = list(rng.integers(0, 6, 200))
    held_out = units_around(centres, test, 9)

    assert not coder.learnt
    assert np.array_equal(
        coder.probabilities(held_out, centres).argsort(axis=1), cosine(held_out, centres).argsort(axis=1)
    )


def test_too_few_decisions_keep_the_zero_shot_ranking() -> None:
    centres = clusters(10)
    coder = fit_coder(CODES, centres, decided(units_around(centres, [0, 1, 2], 11), [{0}, {1}, {2}]))

    assert coder == LearntCoder(code_ids=CODES, units=3)
    assert coder.predicted(coder.probabilities(centres, centres)) == [[i] for i in range(6)]


def test_several_codes_and_no_code_are_predicted_as_the_coder_answered() -> None:
    centres = clusters(12)
    rng = np.random.default_rng(13)
    pairs = [sorted(rng.choice(6, size=2, replace=False)) for _ in range(50)]
    both = np.asarray([(centres[a] + centres[b]) / 2 for a, b in pairs])
    both += rng.normal(scale=0.2, size=both.shape)
    nothing = rng.normal(size=(15, DIMENSION)) * 0.3  # small talk: close to no code
    coder = fit_coder(
        CODES, centres, decided(np.vstack([both, nothing]), [set(p) for p in pairs] + [set()] * 15)
    )

    assert coder.max_codes == 2 and coder.predicts_none
    new_pair = (centres[1] + centres[4]) / 2
    predicted = coder.predicted(coder.probabilities(np.vstack([new_pair, np.zeros(DIMENSION)]), centres))
    assert sorted(predicted[0]) == [1, 4]
    assert predicted[1] == []


def test_suggestions_are_made_again_as_answers_grow_often_at_first_then_rarely() -> None:
    milestones = [rerank_milestone(answered) for answered in range(1, 201)]
    new = [m is not None and m not in milestones[:index] for index, m in enumerate(milestones)]
    reached = [answered for answered, first in zip(range(1, 201), new, strict=True) if first]

    assert milestones[:3] == [None, None, None]
    assert reached[:5] == [4, 5, 6, 7, 8]
    assert len(reached) < 25 and reached[-1] > 150  # ~4 per doubling of the answered segments


def test_a_coder_is_fitted_once_for_the_same_decisions_and_again_when_they_change() -> None:
    centres = clusters(14)
    labels = [i % 6 for i in range(30)]
    units = decided(units_around(centres, labels, 15), [{label} for label in labels])
    fitted = FittedCoders(size=2)

    first = fitted.fit(CODES, centres, units)

    assert fitted.fit(CODES, centres, list(units)) is first  # another source of the same rerank
    again = fitted.fit(CODES, centres, units[:-1])
    assert again is not first and again.units == 29
    assert fitted.fit(CODES, centres, units) is first
