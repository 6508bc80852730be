"""``groundcode eval project`` scores a project's answers as ``groundcode eval dataset`` does
(``eval.scoring``): sets of codes, "no code applies" an answer, the model's abstentions misses, and an
optional reference coder. Pure: units and model answers built by hand."""

from __future__ import annotations

import pytest

from eval.projects import (
    MODEL,
    HumanCoding,
    ModelSuggestion,
    ProjectUnit,
    gold_codes,
    model_answer,
    score_project,
)
from eval.scoring import Answer, AnswerScores, answer_scores, indicator, per_code_kappa
from groundcode.domain import Code, Codebook

CODES = ["a", "b", "c"]


def unit(index: int, codings: dict[str, list[str]], no_code: list[str] | None = None) -> ProjectUnit:
    return ProjectUnit(
        segment_id=f"s{index}",
        source="one.txt",
        start=10 * index,
        end=10 * index + 9,
        text=f"unit {index}",
        codings=[
            HumanCoding(coder=coder, code=code, start=10 * index, end=10 * index + 9, suggested=False)
            for coder, codes in codings.items()
            for code in codes
        ],
        no_code=no_code or [],
    )


UNITS = [
    unit(0, {"alice": ["a"], "bob": ["a"]}),
    unit(1, {"alice": ["a", "b"], "bob": ["b"]}),  # two codes: a set, no "first" code
    unit(2, {"bob": ["c"]}, no_code=["alice"]),  # alice: "no code applies"
    unit(3, {"alice": ["c"]}),  # bob did not answer: a missing rating
]


def suggestion(code: str, confidence: float, applies: bool | None, where: ProjectUnit) -> ModelSuggestion:
    return ModelSuggestion(
        code=code, confidence=confidence, start=where.start, end=where.end, applies=applies
    )


ANSWERS = [
    [],  # the model abstains on unit 0: a miss, not left out
    [
        suggestion("a", 0.9, True, UNITS[1]),
        suggestion("b", 0.8, True, UNITS[1]),
        suggestion("c", 0.1, False, UNITS[1]),
    ],
    [suggestion("c", 0.4, False, UNITS[2])],  # nothing flagged: "no code applies"
    [suggestion("b", 0.7, True, UNITS[3]), suggestion("c", 0.6, False, UNITS[3])],
]


def test_every_unit_a_coder_answered_counts_abstentions_and_no_code_included() -> None:
    scores = score_project(UNITS, ANSWERS, CODES, seed=0, resamples=30)

    pairs = {(pair.reference, pair.coder): pair for pair in scores.pairs}
    assert list(pairs) == [("alice", "bob"), ("alice", MODEL), ("bob", MODEL)]
    model = [model_answer(found, CODES, None) for found in ANSWERS]
    assert [answer.predicted for answer in model] == [[], ["a", "b"], [], ["b"]]
    alice = [["a"], ["a", "b"], [], ["c"]]
    with_alice = pairs[("alice", MODEL)]
    assert with_alice.units == 4 and isinstance(with_alice.scores, AnswerScores)
    assert with_alice.scores == answer_scores(alice, model, CODES, seed=0, resamples=30)
    # The abstention on unit 0 is a miss ("a" not applied), the no-code unit a hit; unit 1 is right as a set.
    assert with_alice.scores.abstained.value == pytest.approx(1 / 4)
    assert with_alice.scores.top1.value == pytest.approx(2 / 4)  # units 1 and 2
    predicted = [answer.predicted for answer in model]
    assert with_alice.scores.per_code_kappa.value == pytest.approx(
        per_code_kappa(indicator(alice, CODES), indicator(predicted, CODES))
    )
    # Researchers: on the units both answered, alice's "no code applies" included, bob's missing unit not.
    human = pairs[("alice", "bob")]
    assert human.units == 3 and not isinstance(human.scores, AnswerScores)
    bob = [["a"], ["b"], ["c"]]
    assert human.scores.per_code_kappa.value == pytest.approx(
        per_code_kappa(indicator(alice[:3], CODES), indicator(bob, CODES))
    )
    assert pairs[("bob", MODEL)].units == 3
    assert scores.model_abstained == 2
    assert [(c.coder, c.units, c.no_code) for c in scores.coders] == [("alice", 4, 1), ("bob", 3, 0)]


def test_a_reference_coder_is_the_gold_of_every_other_coder_and_the_model() -> None:
    scores = score_project(UNITS, ANSWERS, CODES, reference="bob", seed=0, resamples=20)

    assert scores.reference == "bob"
    assert [(pair.reference, pair.coder, pair.units) for pair in scores.pairs] == [
        ("bob", "alice", 3),
        ("bob", MODEL, 3),
    ]
    with pytest.raises(ValueError, match="carol"):
        score_project(UNITS, ANSWERS, CODES, reference="carol", seed=0, resamples=20)


def test_the_model_set_is_what_it_flags_or_with_a_threshold_what_clears_it() -> None:
    found = ANSWERS[3]
    assert model_answer(found, CODES, None) == Answer(
        ranked=["b", "c"], predicted=["b"], confidences=[0.7, 0.6]
    )
    assert model_answer(found, CODES, 0.5).predicted == ["b", "c"]
    unflagged = [suggestion("c", 0.3, None, UNITS[0]), suggestion("a", 0.2, None, UNITS[0])]
    assert model_answer(unflagged, CODES, None).predicted == ["c"]  # a backend that flags nothing: its best


def test_simulated_gold_is_the_reference_answer_or_any_researchers_codes() -> None:
    codebook = Codebook(project_id="p", name="book", codes=[Code(id=f"k{c}", name=c) for c in CODES])
    assert gold_codes(UNITS[1], codebook) == ["a", "b"]
    assert gold_codes(UNITS[2], codebook) == ["c"]  # bob's code; alice's "no code" adds none
    assert gold_codes(UNITS[2], codebook, "alice") == []  # "no code applies"
    assert gold_codes(UNITS[3], codebook, "bob") is None  # bob did not answer it
    assert gold_codes(unit(4, {}, no_code=["alice"]), codebook) == []
    assert gold_codes(unit(5, {"alice": ["gone"]}), codebook) is None  # no longer in the codebook
