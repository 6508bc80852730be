"""``groundcode eval dataset``: set-valued scores on hand-computed examples, the units file's checks, the
simulated researcher's choices, and a tiny dataset end to end through the command."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eval.dataset import DatasetError, DatasetOptions, answer_of, embed_dataset, read_dataset, run_repeat
from eval.metrics import cohen_kappa, gwet_ac1, krippendorff_alpha, multilabel_f1
from eval.scoring import (
    NO_CODE,
    Answer,
    abstained,
    agreement,
    binary_kappas,
    indicator,
    macro_f1,
    per_code_kappa,
    top1,
    top1_hits,
    top3_recall,
    undefined_kappas,
)
from eval.simulation import choose_set
from groundcode.app import Groundcode, open_groundcode
from groundcode.cli import app
from groundcode.domain import DecisionKind
from groundcode.settings import Settings
from services.retrieval.embeddings import LocalE5Embedder

runner = CliRunner()
CODEBOOK = """name: tiny
codes:
  - name: food
    definition: Eating, meals, cooking and restaurants.
  - name: weather
    definition: Rain, sun, temperature and storms.
  - name: travel
    definition: Trips, flights, trains and holidays.
"""
UNITS = """id,text,alice,bob
1,We cooked pasta for dinner last night.,food,food
2,The storm knocked out the power.,weather,weather
3,Our flight to Rome was delayed.,travel,travel
4,It rained all day at the beach on our holiday.,weather;travel,travel
5,I don't remember anything about that.,,
6,The restaurant served terrible soup.,food,food
7,Sunny and warm all week.,weather,
8,We took the night train to Vienna.,travel,travel
"""


def answer(ranked: list[str], predicted: list[str] | None = None) -> Answer:
    return Answer(ranked=ranked, predicted=ranked[:1] if predicted is None else predicted)


def test_no_code_applies_is_an_answer_and_abstentions_are_misses() -> None:
    gold: list[set[str]] = [{"a"}, set(), {"b"}, set(), {"a", "c"}]
    answers = [
        answer(["a", "b"]),  # right
        answer(["a"], []),  # ranked, but nothing applies: right for "no code applies"
        answer([], []),  # no suggestion: a miss, and an abstention
        answer(["c"]),  # a code where none applies: wrong
        answer(["b", "c", "a"], []),  # abstained although gold has codes
    ]
    assert top1_hits(gold, answers) == [True, True, False, False, False]
    assert top1(gold, answers) == pytest.approx(2 / 5)
    assert abstained(gold, answers) == pytest.approx(2 / 5)
    # Units without gold codes have nothing to recall: (1 + 0 + 1) / 3.
    assert top3_recall(gold, answers) == pytest.approx(2 / 3)
    assert math.isnan(top3_recall([set()], [answer(["a"])]))


def test_per_code_kappa_is_binary_kappa_per_code_over_all_units() -> None:
    codes = ["a", "b", "c"]
    gold = [{"a"}, {"a", "b"}, set(), {"b"}, set(), {"a"}]
    predicted = [{"a"}, {"b"}, set(), {"a"}, {"a"}, set()]  # an abstention counts as "not applied"
    first, second = indicator(gold, codes), indicator(predicted, codes)
    expected = [
        cohen_kappa(
            ["yes" if code in g else "no" for g in gold], ["yes" if code in p else "no" for p in predicted]
        )
        for code in codes
    ]
    kappas = binary_kappas(first, second)
    assert kappas[:2] == pytest.approx(expected[:2])
    # Code c: neither coder ever applied it, kappa is 0/0: left out of the mean, and counted.
    assert math.isnan(kappas[2]) and math.isnan(expected[2])
    assert per_code_kappa(first, second) == pytest.approx(np.mean(expected[:2]))
    assert undefined_kappas(first, second) == 1
    # a: 3 gold, 3 predicted, 1 both -> F1 1/3; b: 2 gold, 1 predicted, 1 both -> 2/3; c: not in gold.
    assert macro_f1(first, second) == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert macro_f1(first, second) == pytest.approx(multilabel_f1(gold, predicted, ["a", "b"], "macro"))


def test_alpha_takes_each_units_set_as_one_category() -> None:
    gold = [{"a"}, {"a", "b"}, set(), {"b"}]
    other = [{"a"}, {"b", "a"}, set(), {"a"}]
    labels = [["a", "a; b", NO_CODE, "b"], ["a", "a; b", NO_CODE, "a"]]
    scores = agreement(gold, other, ["a", "b"], seed=0, resamples=10)
    assert scores.alpha.value == pytest.approx(krippendorff_alpha(labels))
    assert scores.ac1.value == pytest.approx(gwet_ac1(labels))


def test_the_researcher_accepts_every_gold_candidate_and_codes_the_rest_by_hand() -> None:
    choice = choose_set(["x", "a", "y", "b", "z"], {"a", "b", "c"})
    assert (choice.accepted, choice.rejected, choice.coded, choice.no_code) == ([1, 3], [0, 2], ["c"], False)
    assert choice.decisions == 5
    nothing = choose_set(["x", "y"], set())
    assert nothing.no_code and nothing.decisions == 1
    assert choose_set(["x", "y"], {"a"}).model_dump() == {
        "accepted": [],
        "rejected": [0, 1],
        "coded": ["a"],
        "no_code": False,
    }


def test_the_predicted_set_is_the_flagged_candidates_else_the_best_allowed_one() -> None:
    ranked = [("x", 0.9, None), ("a", 0.8, None), ("b", 0.5, None)]
    assert answer_of(ranked, ["a", "b"]) == Answer(ranked=["a", "b"], predicted=["a"], confidences=[0.8, 0.5])
    flagged = [("a", 0.9, True), ("b", 0.8, True), ("c", 0.2, False)]
    assert answer_of(flagged, ["a", "b", "c"]).predicted == ["a", "b"]
    assert answer_of([("a", 0.3, False)], ["a"]).predicted == []


def test_the_units_file_is_checked_against_the_codebook() -> None:
    data = read_dataset("u.csv", UNITS.encode(), "c.yaml", CODEBOOK, coders=["alice", "bob"])
    assert data.gold == "alice" and data.codes == ["food", "weather", "travel"]
    assert data.units[3].codings == {"alice": ["travel", "weather"], "bob": ["travel"]}
    assert data.units[4].codings == {"alice": [], "bob": []}  # "no code applies"
    assert not data.single_label and len(data.version) == 12
    assert (
        read_dataset("u.csv", UNITS.encode(), "c.yaml", CODEBOOK, coders=["alice"], limit=2).units[1].id
        == "2"
    )

    with pytest.raises(DatasetError, match=r"u\.csv, row 2, coder bob: code 'rain' is not in the codebook"):
        read_dataset(
            "u.csv",
            UNITS.replace("weather,weather", "weather,rain").encode(),
            "c.yaml",
            CODEBOOK,
            coders=["alice", "bob"],
        )
    with pytest.raises(DatasetError, match="no column 'carol'"):
        read_dataset("u.csv", UNITS.encode(), "c.yaml", CODEBOOK, coders=["alice", "carol"])
    with pytest.raises(DatasetError, match="--gold 'carol'"):
        read_dataset("u.csv", UNITS.encode(), "c.yaml", CODEBOOK, coders=["alice"], gold="carol")


def test_a_group_column_restricts_a_unit_to_its_parents_codes() -> None:
    codebook = """codes:
  - name: Q1
    children: [agree, unsure]
  - name: Q2
    children: [disagree, other]
"""
    units = "text,question,alice\nSure.,Q1,agree\nNope.,Q2,disagree;other\nHm.,Q2,\n"
    data = read_dataset(
        "u.csv", units.encode(), "c.yaml", codebook, coders=["alice"], group_column="question"
    )
    assert data.codes == ["agree", "unsure", "disagree", "other"]  # the group parents are not codes
    q1, q2 = ["agree", "unsure"], ["disagree", "other"]
    assert [unit.allowed for unit in data.units] == [q1, q2, q2]
    assert data.units[1].codings["alice"] == ["disagree", "other"]
    with pytest.raises(DatasetError, match="row 1, coder alice: code 'disagree' is not under 'Q1'"):
        read_dataset(
            "u.csv",
            b"text,question,alice\nSure.,Q1,disagree\n",
            "c.yaml",
            codebook,
            coders=["alice"],
            group_column="question",
        )


def test_a_tiny_dataset_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("GROUNDCODE_EMBEDDING_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "units.csv").write_text(UNITS, encoding="utf-8")
    (tmp_path / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    out = tmp_path / "report"

    result = runner.invoke(
        app,
        [
            "eval",
            "dataset",
            "units.csv",
            "--codebook",
            "codebook.yaml",
            "--coders",
            "alice,bob",
            "--gold",
            "bob",
            "--steps",
            "2",
            "--repeats",
            "2",
            "--order",
            "random",
            "--resamples",
            "20",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "top3_recall" in result.output and "backend offline" in result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert {"units", "codes", "gold", "first", "humans", "learning_curve", "review", "baselines"} <= set(
        report
    )
    assert report["units"] == 8 and report["gold"] == "bob"  # the two "no code applies" units count
    assert report["codes"] == ["food", "weather", "travel"]
    assert {"top1", "top3_recall", "per_code_kappa", "macro_f1", "alpha", "ac1", "abstained"} <= set(
        report["first"]
    )
    assert [pair["coders"] for pair in report["humans"]] == [["bob", "alice"]]
    assert {"accept_rate", "decisions_per_unit", "first_decisions_per_unit"} <= set(report["review"])
    curve = report["learning_curve"]
    assert [point["reviewed"] for point in curve] == [0.0, 0.5]
    assert {"top1_rest", "first_top1_rest", "per_code_kappa_rest", "first_per_code_kappa_rest"} <= set(
        curve[1]
    )
    assert curve[0]["top1_rest"] == curve[0]["first_top1_rest"]
    assert curve[1]["logistic_top1_rest"] is not None
    assert "nearest_code" in report["baselines"]
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "groundcode eval dataset units.csv --coders alice,bob" in markdown and "version" in markdown

    bad = runner.invoke(
        app, ["eval", "dataset", "units.csv", "--codebook", "codebook.yaml", "--coders", "alice,carol"]
    )
    assert bad.exit_code == 1 and "no column 'carol'" in bad.output


def test_each_unit_ends_reviewed_through_the_real_decisions(tmp_path: Path, e5: LocalE5Embedder) -> None:
    dataset = read_dataset("u.csv", UNITS.encode(), "c.yaml", CODEBOOK, coders=["alice", "bob"])
    options = DatasetOptions(
        units_file="u.csv", codebook="c.yaml", coders=["alice", "bob"], steps=2, repeats=1
    )
    groundcode = open_groundcode(options.settings(Settings(), tmp_path / "data"))
    groundcode.embedder = e5
    try:
        vectors = embed_dataset(groundcode, dataset)
        run = run_repeat(groundcode, dataset, vectors, options, 0)
        kinds = Counter(
            decision.kind for decision in groundcode.decisions.list(groundcode_project(groundcode))
        )
    finally:
        groundcode.close()

    assert sorted(run.order) == list(range(8)) and [r.step for r in run.reviewed] == [1] * 4 + [2] * 4
    # The unit coded "no code applies" by alice gets that decision, and nothing else.
    assert kinds[DecisionKind.NO_CODE] == 1
    cost = sum(choose_set(r.shown, dataset.units[r.unit].codings["alice"]).decisions for r in run.reviewed)
    assert sum(kinds.values()) == cost
    assert [point.reviewed for point in run.curve] == [0.0, 0.5]


def groundcode_project(groundcode: Groundcode) -> str:
    return groundcode.repository.get_project("eval-dataset").id
