"""Simulated review through the real adjudication service, on a small synthetic dataset whose code names say
nothing about the texts: only what the researcher's decisions teach can make the suggestions right."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from eval.seeds import AxialDataset, Parent, Unit
from eval.simulation import (
    RESEARCHER,
    SimulationOptions,
    SimulationReport,
    choose,
    choose_set,
    run_simulation,
    simulation_report,
    step_ends,
    write_simulation_report,
)
from eval.tasks import setup_axial
from groundcode import state
from groundcode.app import Groundcode, open_groundcode
from groundcode.domain import DecisionKind
from groundcode.settings import Settings
from services.retrieval.embeddings import LocalE5Embedder

TOPICS = {
    "Code K": [
        "The budget was cut again, so the servers were never bought.",
        "Funding for maintenance is the first thing cut from the annual budget.",
        "There is no money left for the digital projects this year.",
        "The ministry reduced our budget for software licences.",
        "We had to postpone the upgrade because the funds ran out.",
        "The council would not pay for more staff in the IT department.",
        "Every new system needs money we simply do not have.",
        "Grants for the project ended after the first year.",
        "Cost savings meant the pilot was stopped halfway.",
        "The finance office froze all spending on new tools.",
    ],
    "Code M": [
        "Nobody trusts the new portal after the data leak.",
        "Citizens do not believe the agency keeps their data safe.",
        "People have lost confidence in the online services.",
        "After the scandal the public stopped trusting the system.",
        "Residents suspect the app shares their details with companies.",
        "Many users fear their records could be misused.",
        "Older people are wary of filling in forms online.",
        "The hack made everyone doubt the government's promises.",
        "Patients refuse to give consent because they feel watched.",
        "Trust in the city's website is very low since the breach.",
    ],
    "Code Q": [
        "The law gives no legal basis for sharing the registry data.",
        "Our lawyers say the regulation forbids exchanging these files.",
        "A court ruling blocked the data exchange between agencies.",
        "The legislation on privacy stops us from linking the databases.",
        "Parliament never passed the act that would allow this.",
        "The statute requires a written mandate for every transfer.",
        "Legal counsel warned that the contract breaks procurement rules.",
        "A judge ordered the agency to delete the shared records.",
        "Data protection law prohibits reusing the files for this purpose.",
        "The decree does not authorise municipalities to access the register.",
    ],
}
UNITS = [Unit(text=TOPICS[code][i], gold=[code]) for i in range(10) for code in TOPICS]
DATASET = AxialDataset(
    name="synthetic",
    description="three topics under code names that do not name them",
    file="synthetic.yaml",
    version="test",
    parents=[Parent(name=name) for name in [*TOPICS, "Code R", "Code T"]],  # two codes nothing carries
    units=UNITS,
)


@pytest.fixture
def groundcode(tmp_path: Path, e5: LocalE5Embedder) -> Iterator[Groundcode]:
    opened = open_groundcode(SimulationOptions(dataset="synthetic").settings(Settings(), tmp_path / "data"))
    opened.embedder = e5
    yield opened
    opened.close()


def test_the_researcher_accepts_the_first_gold_candidate_after_rejecting_those_above() -> None:
    assert choose(["a", "b", "c"], {"b", "c"}).model_dump() == {"rejected": [0], "accepted": 1}
    assert choose(["a", "b"], {"z"}).model_dump() == {"rejected": [0, 1], "accepted": None}
    assert choose([], {"z"}).decisions == 1  # coded by hand
    assert step_ends(12, 2) == [6, 12] and step_ends(25, 10)[:3] == [3, 5, 8] and step_ends(25, 10)[-1] == 25
    assert step_ends(3, 10) == [1, 2, 3]


def test_decisions_add_up_and_exemplars_from_them_change_the_next_suggestions(
    groundcode: Groundcode, tmp_path: Path
) -> None:
    setup = setup_axial(groundcode, DATASET, [unit.text for unit in UNITS])

    run = run_simulation(
        groundcode, setup, [u.gold for u in UNITS], steps=2, dataset="synthetic", description="test"
    )

    report = simulation_report(run, SimulationOptions(dataset="synthetic", steps=2, seed=4, resamples=50))
    cost, per_step = report.scores.learning, report.scores.per_step
    assert cost.units == 30 and [step.learning.units for step in per_step] == [15, 15]
    # Every unit ends with exactly one coding: accepted, or coded by hand after rejecting every candidate
    # (here never: the whole codebook is ranked and five codes are shown).
    assert cost.accepted + cost.coded_by_hand == 30 and cost.accepted
    assert cost.decisions == cost.accepted + cost.rejected + cost.coded_by_hand
    assert cost.accepted == sum(cost.accepted_ranks.values())
    # Accepted at rank r: r - 1 rejections and the accept; none gold: every candidate rejected, one coded.
    assert cost.decisions == sum(r.accepted_rank or len(r.shown) + 1 for r in run.reviewed)
    stored = Counter(d.kind for d in groundcode.decisions.list(setup.project.id))
    assert stored == Counter(
        {
            DecisionKind.ACCEPT: cost.accepted,
            DecisionKind.REJECT: cost.rejected,
            DecisionKind.CODE: cost.coded_by_hand,
        }
    )
    # The second half was suggested again after learning: the first half (15 units, as many as learning
    # needs) trains the researcher's own.
    second_half = [segment.id for segment in setup.segments[15:]]
    researcher = groundcode.accounts.get_user(RESEARCHER)
    own = groundcode.suggestions.list_for_segments(second_half, coder_id=researcher.id)
    again = [s for s in own if s.rank == 1]
    assert again and all(s.provenance["decided_units"] == 15 for s in again)
    before, after = run.curve
    assert (before.step, before.remaining, after.step, after.reviewed, after.remaining) == (0, 30, 1, 15, 15)
    assert after.top_accuracy > after.initial_top_accuracy
    assert after.top_accuracy == sum(r.shown[:1] == r.gold for r in run.reviewed[15:]) / 15
    # The first step was reviewed with the first suggestions; the second with what they taught.
    assert per_step[0].learning == per_step[0].first
    assert per_step[1].learning.decisions_per_unit < per_step[1].first.decisions_per_unit
    gain = report.scores.accept_rate_gain.value  # zero here: with five codes shown, every unit is accepted
    assert gain == pytest.approx(cost.accept_rate - report.scores.first.accept_rate)

    written = write_simulation_report(report, tmp_path / "report")
    assert {path.name for path in written} == {"report.md", "report.json", "learning_curve.png"}
    stored_report = json.loads((tmp_path / "report" / "report.json").read_text(encoding="utf-8"))
    assert SimulationReport.model_validate(stored_report).model_dump_json() == report.model_dump_json()
    markdown = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert (
        "groundcode eval simulate-review --backend offline --seed 4 --dataset synthetic --steps 2 "
        "--resamples 50" in markdown
    )


def test_multi_code_and_no_code_gold_end_as_those_answers_in_the_decisions(groundcode: Groundcode) -> None:
    """Every gold code ends as a coding (accepted or by hand), an empty gold as "no code applies"."""
    setup = setup_axial(groundcode, DATASET, [unit.text for unit in UNITS[:4]])
    gold = [["Code K"], ["Code M", "Code R"], [], ["Code Q", "Code T", "Code K"]]

    run = run_simulation(groundcode, setup, gold, steps=1, dataset="synthetic", description="test")

    decisions = groundcode.decisions.list(setup.project.id)
    names = {code.id: code.name for code in setup.codebook.codes}
    researcher = groundcode.accounts.get_user(RESEARCHER)
    answered = state.decided_codes(decisions)
    assert [
        sorted(names[c] for c in answered[(researcher.id, segment.id)]) for segment in setup.segments
    ] == [sorted(codes) for codes in gold]
    cost = simulation_report(
        run, SimulationOptions(dataset="synthetic", steps=1, resamples=20)
    ).scores.learning
    kinds = Counter(d.kind for d in decisions)
    assert (cost.units, cost.no_code, kinds[DecisionKind.NO_CODE]) == (4, 1, 1)
    assert cost.accepted + cost.coded_by_hand == 6 == kinds[DecisionKind.ACCEPT] + kinds[DecisionKind.CODE]
    assert cost.rejected == kinds[DecisionKind.REJECT]
    assert cost.decisions == cost.accepted + cost.rejected + cost.coded_by_hand + cost.no_code
    for item in run.reviewed:
        assert set(item.predicted) <= set(item.shown)  # the candidates flagged as applying
    assert choose_set(["x", "a", "y", "b", "z"], {"a", "b", "c"}).model_dump() == {
        "accepted": [1, 3],
        "rejected": [0, 2],
        "coded": ["c"],
        "no_code": False,
    }
