"""Simulated adjudication: a dataset replayed through the real adjudication service by a simulated researcher,
with its decisions fed back the way a researcher's are, to measure whether review gets faster.

The researcher reviews the units in order. On each it reads the ranked candidates (``segment_view``, as the
review page shows them to it), accepts every candidate whose code is gold, rejects (``wrong_code``) the
others above the last gold one (all of them when none is gold), and codes the gold codes no candidate showed
by hand (``CodeRequest``, the whole segment); a unit whose gold is empty gets one "no code applies"
decision (``NoCodeRequest``): ``choose_set``, as in ``groundcode eval dataset``. After each step (the
first 10 %, 20 %, ... of the units) the learn stage runs for the step's decisions (accepted and hand-made
codings become exemplars; decisions on suggestions train the offline backend) and the suggest stage runs
again, before the next step is reviewed.

The learning curve is the top-1 accuracy and per-code kappa (``eval.scoring``: a unit's answer is its
candidates ranked, its set the candidates flagged as applying) on the units not reviewed yet, after each
step, next to what the *first* suggestions had on those same units: the difference is what was learnt, not
which units happen to remain.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval import plots
from eval.metrics import Estimate, Number, bootstrap
from eval.report import ReportInfo, estimate_cells, number, provenance_rows, write_files
from eval.scoring import Answer, AnswerScores, answer_scores, rest_scores
from eval.tasks import BackendOptions, Provenance, Setup, provenance, suggest_codes
from groundcode.app import Groundcode
from groundcode.domain import Access, Role, Segment, Stage
from services.adjudication.models import (
    AcceptRequest,
    CandidateView,
    CodeRequest,
    DecideRequest,
    NoCodeRequest,
    RejectRequest,
    ReviewFilter,
)

RESEARCHER = "simulated-researcher"
EVERY_SEGMENT = ReviewFilter(status="all")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SimulationOptions(BackendOptions):
    """How a simulated review is run, as given on the command line."""

    dataset: str  # a seed task or a user project
    reference: str | None = None  # a user project's coder whose answers are gold (None: any researcher's)
    steps: int = Field(default=10, ge=1)
    limit: int | None = Field(default=None, ge=1)
    resamples: int = Field(default=1000, ge=1)


class Choice(_Model):
    """What the researcher does with a segment's shown candidates (indices into them)."""

    rejected: list[int]
    accepted: int | None  # None: no candidate is gold, the gold code is coded by hand

    @property
    def decisions(self) -> int:
        return len(self.rejected) + 1


def choose(shown: Sequence[str], gold: Collection[str]) -> Choice:
    """Accept the first gold candidate after rejecting those above it; else reject all. Pure."""
    for index, name in enumerate(shown):
        if name in gold:
            return Choice(rejected=list(range(index)), accepted=index)
    return Choice(rejected=list(range(len(shown))), accepted=None)


class SetChoice(_Model):
    """What the researcher does with a segment's shown candidates when a unit may carry several codes, or
    none (indices into the shown candidates)."""

    accepted: list[int]
    rejected: list[int]
    coded: list[str]  # gold codes no candidate showed, coded by hand
    no_code: bool  # gold is empty: one "no code applies" decision

    @property
    def decisions(self) -> int:
        return len(self.accepted) + len(self.rejected) + len(self.coded) + self.no_code


def choose_set(shown: Sequence[str], gold: Collection[str]) -> SetChoice:
    """Accept every gold candidate, reject the others above the last gold one (all of them when none is
    gold), code the gold codes not shown by hand; with no gold code, decide "no code applies" (one
    decision, whatever was shown). With one gold code this is ``choose``. Pure."""
    if not gold:
        return SetChoice(accepted=[], rejected=[], coded=[], no_code=True)
    hits = [index for index, name in enumerate(shown) if name in gold]
    last = hits[-1] if hits else len(shown) - 1
    return SetChoice(
        accepted=hits,
        rejected=[index for index in range(last + 1) if shown[index] not in gold],
        coded=sorted(set(gold) - set(shown)),
        no_code=False,
    )


def step_ends(units: int, steps: int) -> list[int]:
    """Where each step ends: the first ``k/steps`` of the units, rounded up (empty steps left out). Pure."""
    return list(dict.fromkeys(-(-units * step // steps) for step in range(1, steps + 1) if units))


class Reviewed(_Model):
    """One unit as the simulated researcher reviewed it."""

    segment_id: str
    text: str
    gold: list[str]  # empty: "no code applies"
    step: int  # 1-based
    shown: list[str]  # the candidates' codes, in the order shown at review
    initially_shown: list[str]  # what the first suggestions (before any review) showed
    accepted_rank: int | None  # the best accepted candidate's, 1-based; None: none accepted
    # The candidates flagged as applying, at review and in the first suggestions (the predicted sets).
    predicted: list[str] = []
    initially_predicted: list[str] = []


class CurvePoint(_Model):
    """The top suggestions on the units not reviewed yet, after a step (step 0: before any review)."""

    step: int
    reviewed: int
    remaining: int
    top_accuracy: Number  # of the suggestions after learning from the reviewed units
    initial_top_accuracy: Number  # of the first suggestions on the same units
    # Mean binary kappa per code over the remaining units (the top suggestion as the predicted set), as
    # ``groundcode eval dataset`` reports it; nan in reports written before it was.
    per_code_kappa: Number = math.nan
    initial_per_code_kappa: Number = math.nan


class SimulationRun(_Model):
    dataset: str
    description: str
    dataset_file: str | None  # None for a user project
    dataset_version: str | None
    codes: list[str]
    reviewed: list[Reviewed]
    curve: list[CurvePoint]
    provenance: Provenance


def run_simulation(
    groundcode: Groundcode,
    setup: Setup,
    gold: Sequence[Sequence[str]],
    *,
    steps: int,
    dataset: str,
    description: str,
    dataset_file: str | None = None,
    dataset_version: str | None = None,
) -> SimulationRun:
    """Review ``setup``'s segments (unit ``i`` has gold codes ``gold[i]``, none: "no code applies") in
    ``steps`` steps, learning and suggesting again between steps through the stage handlers."""
    if len(gold) != len(setup.segments):
        raise ValueError("every segment needs its gold codes")
    user = groundcode.accounts.add_user(RESEARCHER)
    groundcode.accounts.set_member(setup.project.id, user.id, Role.CODER)
    who = Access(project=setup.project, user=user, role=Role.CODER)
    code_ids = {code.name: code.id for code in setup.codebook.codes}
    exemplars = groundcode.settings.suggestion_exemplars
    suggestions = suggest_codes(groundcode, setup, exemplars=exemplars)
    initial = [_answer(_candidates(groundcode, who, segment.id)) for segment in setup.segments]
    curve = [_point(0, 0, gold, initial, initial, list(code_ids))]
    reviewed: list[Reviewed] = []
    begin = 0
    for step, end in enumerate(step_ends(len(setup.segments), steps), start=1):
        decision_ids: list[str] = []
        for index in range(begin, end):
            segment, codes = setup.segments[index], gold[index]
            shown = _candidates(groundcode, who, segment.id)
            now = _answer(shown)
            choice = choose_set(now.ranked, codes)
            requests = review_requests(segment, [c.suggestion_id for c in shown], choice, code_ids)
            decision_ids += decide_all(groundcode, who, requests)
            reviewed.append(
                Reviewed(
                    segment_id=segment.id,
                    text=segment.text,
                    gold=list(codes),
                    step=step,
                    shown=now.ranked,
                    initially_shown=initial[index].ranked,
                    accepted_rank=choice.accepted[0] + 1 if choice.accepted else None,
                    predicted=now.predicted,
                    initially_predicted=initial[index].predicted,
                )
            )
        begin = end
        if end == len(setup.segments):
            break
        handlers = groundcode.handlers()
        for decision_id in decision_ids:
            handlers[Stage.LEARN](decision_id)
        suggestions += suggest_codes(groundcode, setup, exemplars=exemplars)
        rest = [_answer(_candidates(groundcode, who, segment.id)) for segment in setup.segments[end:]]
        curve.append(_point(step, end, gold, rest, initial, list(code_ids)))
    return SimulationRun(
        dataset=dataset,
        description=description,
        dataset_file=dataset_file,
        dataset_version=dataset_version,
        codes=list(code_ids),
        reviewed=reviewed,
        curve=curve,
        provenance=provenance(groundcode, suggestions),
    )


def _candidates(groundcode: Groundcode, who: Access, segment_id: str) -> list[CandidateView]:
    """The segment's candidate codes, in the order the review page shows them."""
    view = groundcode.adjudication.segment_view(who, EVERY_SEGMENT, segment_id)
    assert view is not None  # a named segment always has a view
    return [c for c in view.candidates if c.mode == "deductive" and c.code_id is not None]


def _answer(shown: Sequence[CandidateView]) -> Answer:
    """The candidates as an answer: ranked as shown, the predicted set those flagged as applying."""
    return Answer(
        ranked=[c.code_name for c in shown],
        predicted=[c.code_name for c in shown if c.applies],
        confidences=[c.confidence for c in shown],
    )


def review_requests(
    segment: Segment, suggestion_ids: Sequence[str], choice: SetChoice, code_ids: Mapping[str, str]
) -> list[DecideRequest]:
    """The requests that make a choice on the segment (``suggestion_ids``: the shown candidates'; code name
    -> id for the codes made by hand): rejections, one accept of every gold candidate, hand-made codings of
    the whole segment, or "no code applies"."""
    whole = {"segment_id": segment.id, "start": segment.start, "end": segment.end, "version": 0}
    accepted = [suggestion_ids[index] for index in choice.accepted]
    return [
        *(
            RejectRequest(suggestion_id=suggestion_ids[i], reason="wrong_code", version=0)
            for i in choice.rejected
        ),
        *([AcceptRequest(suggestion_ids=accepted, version=0)] if accepted else []),
        *(CodeRequest(code_id=code_ids[name], **whole) for name in choice.coded),
        *([NoCodeRequest(segment_id=segment.id, version=0)] if choice.no_code else []),
    ]


def decide_all(groundcode: Groundcode, who: Access, requests: Sequence[DecideRequest]) -> list[str]:
    """Make the decisions on one segment one after the other, as on the review page (each on the version the
    one before left); returns their ids."""
    version = 0
    decided: list[str] = []
    for request in requests:
        outcome = groundcode.adjudication.decide(who, request.model_copy(update={"version": version}))
        version = outcome.result.version
        decided += [decision.id for decision in outcome.result.decisions]
    return decided


def _point(
    step: int,
    reviewed: int,
    gold: Sequence[Sequence[str]],
    shown: Sequence[Answer],
    initial: Sequence[Answer],
    codes: Sequence[str],
) -> CurvePoint:
    """The curve after ``step``: ``shown`` are the answers on the units from ``reviewed`` on."""
    remaining = gold[reviewed:]
    top, kappa = rest_scores(remaining, shown, codes)
    initial_top, initial_kappa = rest_scores(remaining, initial[reviewed:], codes)
    return CurvePoint(
        step=step,
        reviewed=reviewed,
        remaining=len(remaining),
        top_accuracy=top,
        initial_top_accuracy=initial_top,
        per_code_kappa=kappa,
        initial_per_code_kappa=initial_kappa,
    )


def _first_answers(reviewed: Sequence[Reviewed]) -> list[Answer]:
    """What the first suggestions answered on the reviewed units."""
    return [Answer(ranked=item.initially_shown, predicted=item.initially_predicted) for item in reviewed]


# Scores


class ReviewCost(_Model):
    """What reviewing some units took: every gold code ends as a coding, accepted or made by hand, and a unit
    without gold codes as one "no code applies" decision."""

    units: int
    decisions: int
    accepted: int  # candidates accepted
    rejected: int
    coded_by_hand: int  # codings made by hand
    no_code: int = 0  # units decided "no code applies"
    accept_rate: Number  # of the units with gold codes, those where a shown candidate was accepted
    decisions_per_unit: Number
    mean_accepted_rank: Number  # over the accepted candidates
    accepted_ranks: dict[int, int]  # rank of an accepted candidate -> candidates


def review_cost(choices: Sequence[SetChoice]) -> ReviewCost:
    """The cost of the researcher's choices on some units. Pure."""
    ranks = [index + 1 for choice in choices for index in choice.accepted]
    coded = [choice for choice in choices if not choice.no_code]
    decisions = sum(choice.decisions for choice in choices)
    units = len(choices)
    return ReviewCost(
        units=units,
        decisions=decisions,
        accepted=len(ranks),
        rejected=sum(len(choice.rejected) for choice in choices),
        coded_by_hand=sum(len(choice.coded) for choice in choices),
        no_code=units - len(coded),
        accept_rate=sum(bool(c.accepted) for c in coded) / len(coded) if coded else math.nan,
        decisions_per_unit=decisions / units if units else math.nan,
        mean_accepted_rank=sum(ranks) / len(ranks) if ranks else math.nan,
        accepted_ranks=dict(sorted(Counter(ranks).items())),
    )


class Costs(_Model):
    """The review as it went (suggestions learnt from the units reviewed before), and what it would have
    cost with the first suggestions, made before any decision, on the same units."""

    learning: ReviewCost
    first: ReviewCost


class StepScores(Costs):
    step: int


class SimulationScores(Costs):
    # Learning's effect, unit by unit against the first suggestions, with 95% bootstrap intervals over units.
    accept_rate_gain: Estimate  # > 0: more units accepted
    decisions_saved_per_unit: Estimate  # > 0: fewer decisions
    per_step: list[StepScores]
    curve: list[CurvePoint]
    # The first suggestions scored as ``groundcode eval dataset`` scores them (sets, abstentions counted);
    # None in reports written before.
    first_suggestions: AnswerScores | None = None


def simulation_scores(run: SimulationRun, *, seed: int, resamples: int) -> SimulationScores:
    """Review costs overall and per step, what learning changed, and the learning curve. Pure."""
    reviewed = run.reviewed
    learning = [choose_set(item.shown, item.gold) for item in reviewed]
    first = [choose_set(item.initially_shown, item.gold) for item in reviewed]
    accepted = [bool(a.accepted) - bool(b.accepted) for a, b in zip(learning, first, strict=True)]
    saved = [b.decisions - a.decisions for a, b in zip(learning, first, strict=True)]

    def mean_of(values: Sequence[int]) -> Estimate:
        return bootstrap(
            lambda units: sum(values[unit] for unit in units) / len(units) if units else math.nan,
            len(values),
            seed=seed,
            resamples=resamples,
        )

    return SimulationScores(
        **_costs(reviewed),
        accept_rate_gain=mean_of(accepted),
        decisions_saved_per_unit=mean_of(saved),
        per_step=[
            StepScores(step=step, **_costs([item for item in reviewed if item.step == step]))
            for step in sorted({item.step for item in reviewed})
        ],
        curve=run.curve,
        first_suggestions=answer_scores(
            [item.gold for item in reviewed],
            _first_answers(reviewed),
            run.codes,
            seed=seed,
            resamples=resamples,
        ),
    )


def _costs(reviewed: Sequence[Reviewed]) -> dict[str, ReviewCost]:
    return {
        "learning": review_cost([choose_set(item.shown, item.gold) for item in reviewed]),
        "first": review_cost([choose_set(item.initially_shown, item.gold) for item in reviewed]),
    }


# Report


class SimulationInfo(ReportInfo):
    options: SimulationOptions


class SimulationReport(_Model):
    kind: Literal["simulated-review"] = "simulated-review"
    info: SimulationInfo
    codes: list[str]
    scores: SimulationScores
    reviewed: list[Reviewed]


def simulation_report(run: SimulationRun, options: SimulationOptions) -> SimulationReport:
    info = SimulationInfo(
        description=run.description,
        dataset_file=run.dataset_file,
        dataset_version=run.dataset_version,
        provenance=run.provenance,
        options=options,
    )
    return SimulationReport(
        info=info,
        codes=run.codes,
        scores=simulation_scores(run, seed=options.seed, resamples=options.resamples),
        reviewed=run.reviewed,
    )


def headline(report: SimulationReport) -> list[tuple[str, str, str]]:
    """The main numbers as (metric, as the review went, with the first suggestions only) rows."""
    scores = report.scores
    learning, first = scores.learning, scores.first
    before, last = scores.curve[0], scores.curve[-1]

    def ranks(cost: ReviewCost) -> str:
        return ", ".join(f"{rank}: {count}" for rank, count in cost.accepted_ranks.items()) or "none"

    return [
        ("units reviewed", str(learning.units), f"in {len(scores.per_step)} steps"),
        ("accept rate", number(learning.accept_rate), number(first.accept_rate)),
        ("decisions per unit", number(learning.decisions_per_unit), number(first.decisions_per_unit)),
        ("accept rate gained by learning", *_gain(scores.accept_rate_gain)),
        ("decisions saved per unit by learning", *_gain(scores.decisions_saved_per_unit)),
        *(
            (label, f"{getattr(learning, name)}", f"{getattr(first, name)}")
            for label, name in (
                ("decisions", "decisions"),
                ("accepted", "accepted"),
                ("rejected", "rejected"),
                ("coded by hand", "coded_by_hand"),
                ('"no code applies"', "no_code"),
            )
        ),
        (
            "mean rank of the accepted candidate",
            number(learning.mean_accepted_rank),
            number(first.mean_accepted_rank),
        ),
        ("accepted candidates by rank", ranks(learning), ranks(first)),
        (
            f"top-1 on the last {last.remaining} units",
            number(last.top_accuracy),
            number(last.initial_top_accuracy),
        ),
        (f"top-1 on all {before.remaining} units", "", number(before.top_accuracy)),
        (
            f"per-code kappa on the last {last.remaining} units",
            number(last.per_code_kappa),
            number(last.initial_per_code_kappa),
        ),
    ]


def _gain(estimate: Estimate) -> tuple[str, str]:
    value, interval = estimate_cells(estimate)
    return value, f"95% interval {interval}"


def to_markdown(report: SimulationReport) -> str:
    info, scores = report.info, report.scores
    dataset = (
        f"`{info.dataset_file}`, version `{info.dataset_version}`"
        if info.dataset_file
        else f"project {info.options.dataset!r}"
    )
    lines = [
        f"# Simulated review: {info.options.dataset}",
        "",
        info.description,
        "",
        "| | |",
        "|---|---|",
        f"| dataset | {dataset} |",
        *provenance_rows(info.provenance),
        f"| seed | {info.options.seed} |",
        f"| command | `{info.options.command_line('simulate-review')}` |",
        f"| created | {info.created_at:%Y-%m-%d %H:%M} UTC |",
        "",
        "A simulated researcher reviews the units in order, accepting every gold candidate, rejecting the",
        'others above the last gold one, coding gold codes not shown by hand, and deciding "no code',
        'applies" where gold is empty; between steps its decisions go through the learn stage and the',
        "suggest stage runs again. *First suggestions only*: what the same review would have cost with the",
        "suggestions made before any decision. Top-1 and per-code kappa as `groundcode eval dataset`",
        "scores them (the predicted set: the candidates flagged as applying; none is an abstention, a miss).",
        "",
        "| metric | with learning | first suggestions only, or note |",
        "|---|---|---|",
        *(f"| {metric} | {value} | {note} |" for metric, value, note in headline(report)),
        "",
        "## Per step",
        "",
        "| step | units | accept rate | (first suggestions) | decisions per unit | (first suggestions) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {item.step} | {item.learning.units} | {number(item.learning.accept_rate)} | "
            f"{number(item.first.accept_rate)} | {number(item.learning.decisions_per_unit)} | "
            f"{number(item.first.decisions_per_unit)} |"
            for item in scores.per_step
        ),
        "",
        "## Learning curve: the suggestions on the units not reviewed yet",
        "",
        "| after step | reviewed | remaining | accuracy | accuracy of the first suggestions | per-code kappa "
        "| per-code kappa of the first suggestions |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {point.step} | {point.reviewed} | {point.remaining} | {number(point.top_accuracy)} | "
            f"{number(point.initial_top_accuracy)} | {number(point.per_code_kappa)} | "
            f"{number(point.initial_per_code_kappa)} |"
            for point in scores.curve
        ),
        "",
        "![learning curve](learning_curve.png)",
    ]
    return "\n".join(lines) + "\n"


def write_simulation_report(report: SimulationReport, folder: Path) -> list[Path]:
    """``report.md``, ``report.json`` and ``learning_curve.png`` in ``folder``."""
    written = write_files(report, to_markdown(report), folder)
    scores = report.scores
    return [*written, plots.learning_curve_png(scores.curve, scores.per_step, folder / "learning_curve.png")]
