"""A user's human-coded project as an evaluation dataset: its human codings scored against each other and
against the suggestion model, treated as one more coder, the way ``groundcode eval dataset`` scores them
(``eval.scoring``).

Units are the segments a researcher answered: coded (by hand, imported from a CSV file or a REFI-QDA project,
or an accepted suggestion) or marked "no code applies" (an empty set, a real answer every score counts). The
project is copied (sources, segments, latest codebook) into an evaluation database, so the model's
suggestions are made there, with every code a candidate and no exemplars, and nothing is written to the
user's project.

A coder's answer on a unit is the *set* of codes in force there (``state.decided_codes``); a coder who did
not answer a unit is a missing rating, and two researchers are compared on the units both answered. The
model answers every unit: its ranked suggestions, and as its set the suggestions flagged as applying (with
``--threshold``, every suggestion at or above it); no suggestion flagged is an abstention, counted as "not
applied" (a miss), never left out. Span IoU compares the characters coded with the same code.

With a reference coder every other coder and the model are scored against that coder; without one, every
pair of researchers (the ceiling) and the model against each researcher.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from itertools import combinations
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval.dataset import answer_of
from eval.metrics import Estimate, Label, Number, Rating, bootstrap, krippendorff_alpha, span_iou
from eval.report import ReportInfo, estimate_cells, number, provenance_rows, write_files
from eval.scoring import Agreement, Answer, AnswerScores, agreement, answer_scores, set_label
from eval.tasks import BackendOptions, Setup, by_segment
from groundcode import state
from groundcode.app import Groundcode
from groundcode.domain import Codebook, Coding, Project, Segment, Source, Stage, Suggestion

MODEL = "(model)"
"""The suggestion model's name among the coders (no username can contain parentheses)."""
UNDEFINED = Estimate(value=math.nan, low=math.nan, high=math.nan)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HumanCoding(_Model):
    coder: str  # username
    code: Label
    start: int
    end: int
    suggested: bool  # an accepted (or edited) suggestion, not made by hand


class ProjectUnit(_Model):
    """A segment a researcher answered."""

    segment_id: str
    source: str
    start: int
    end: int
    text: str
    codings: list[HumanCoding]
    no_code: list[str] = []  # the coders who answered "no code applies"

    def answer(self, coder: str) -> list[Label] | None:
        """The coder's set of codes (empty: "no code applies"; None: not answered)."""
        codes = sorted({c.code for c in self.codings if c.coder == coder})
        return codes if codes or coder in self.no_code else None

    @property
    def coders(self) -> set[str]:
        return {c.coder for c in self.codings} | set(self.no_code)


class ProjectData(_Model):
    """What an evaluation reads from a user's project."""

    project: Project
    codebook: Codebook
    sources: list[Source]  # those with units
    segments: dict[str, list[Segment]]  # every segment of those sources, by source id
    units: list[ProjectUnit]  # in source and segment order


def project_units(
    codings: Sequence[Coding],
    no_code: Collection[tuple[str, str]],
    sources: Sequence[Source],
    segments: dict[str, list[Segment]],
    code_names: dict[str, str],
    usernames: dict[str, str],
) -> list[ProjectUnit]:
    """One unit per answered segment (``no_code``: ``(coder id, segment id)`` marked "no code applies"), in
    source and segment order. Pure."""
    by_segment: dict[str, list[Coding]] = {}
    for coding in codings:
        by_segment.setdefault(coding.segment_id, []).append(coding)
    marked: dict[str, list[str]] = {}
    for coder_id, segment_id in sorted(no_code):
        marked.setdefault(segment_id, []).append(usernames.get(coder_id, coder_id))
    return [
        ProjectUnit(
            segment_id=segment.id,
            source=source.name,
            start=segment.start,
            end=segment.end,
            text=segment.text,
            codings=[
                HumanCoding(
                    coder=usernames.get(c.coder_id, c.coder_id),
                    code=code_names.get(c.code_id, c.code_id),
                    start=c.start,
                    end=c.end,
                    suggested=c.suggestion_id is not None,
                )
                for c in by_segment.get(segment.id, [])
            ],
            no_code=sorted(marked.get(segment.id, [])),
        )
        for source in sources
        for segment in segments.get(source.id, [])
        if segment.id in by_segment or segment.id in marked
    ]


def read_project(groundcode: Groundcode, name: str) -> ProjectData:
    """The project's latest codebook and the segments its researchers answered (``NotFoundError``,
    ``ValueError`` when there is nothing to evaluate)."""
    repository = groundcode.repository
    project = repository.get_project(name)
    codebook = repository.latest_codebook(project.id)
    if codebook is None:
        raise ValueError(f"project {name!r} has no codebook")
    decisions = groundcode.decisions.list(project.id)
    no_code = {key for key, codes in state.decided_codes(decisions).items() if not codes}
    codings = state.codings(decisions)
    answered = {coding.segment_id for coding in codings} | {segment_id for _, segment_id in no_code}
    every = repository.list_sources(project.id)
    segments = {source.id: repository.list_segments(source.id) for source in every}
    sources = [source for source in every if any(s.id in answered for s in segments[source.id])]
    names = {code_id: code.name for code_id, code in repository.code_index(project.id).items()}
    users = {user.id: user.username for user in groundcode.accounts.list_users()}
    units = project_units(codings, no_code, sources, segments, names, users)
    if not units:
        raise ValueError(f"project {name!r} has no human codings")
    return ProjectData(
        project=project,
        codebook=codebook,
        sources=sources,
        segments={source.id: segments[source.id] for source in sources},
        units=units,
    )


def copy_project(groundcode: Groundcode, data: ProjectData, units: Sequence[ProjectUnit]) -> Setup:
    """The project's coded sources (with their segments, as they are) and latest codebook in ``groundcode``'s
    (evaluation) database, indexed; the setup's segments are those of ``units``, in their order."""
    repository = groundcode.repository
    project = repository.ensure_project(data.project.name)
    codebook, _ = repository.save_codebook(project.id, data.codebook.name, data.codebook.codes)
    handlers = groundcode.handlers()
    handlers[Stage.INDEX_CODEBOOK](codebook.id)
    for source in data.sources:
        repository.add_source(source.model_copy(update={"project_id": project.id}))
        repository.replace_segments(source.id, data.segments[source.id])
        handlers[Stage.INDEX](source.id)
    segments = {segment.id: segment for found in data.segments.values() for segment in found}
    return Setup(
        project=project,
        codebook=codebook,
        source_ids=[source.id for source in data.sources],
        segments=[segments[unit.segment_id] for unit in units],
    )


def shown_suggestions(groundcode: Groundcode, setup: Setup, user_id: str | None = None) -> list[Suggestion]:
    """The setup's deductive suggestions as ``user_id`` sees them on the review page: their own scope where
    suggestions were learnt from their decisions alone (blind coding), else, and without a user, the shared
    ones."""
    store = groundcode.suggestions
    scope = None if user_id is None else store.scope_for(setup.project.id, user_id)
    return [
        suggestion
        for source_id in setup.source_ids
        for suggestion in store.list_for_source(source_id, coder_id=scope)
        if suggestion.mode == "deductive"
    ]


def gold_codes(unit: ProjectUnit, codebook: Codebook, reference: str | None = None) -> list[Label] | None:
    """A simulated researcher's gold on the unit, in codebook order: the reference coder's codes (None: they
    did not answer it), or without one the codes any researcher gave; only codes the codebook still has (a
    simulated researcher can only code those). Empty: "no code applies" (every answer said so, or the
    reference's did); None also when the codes given are all gone from the codebook. Pure."""
    given = unit.answer(reference) if reference is not None else sorted({c.code for c in unit.codings})
    if given is None:
        return None
    kept = [code.name for code in codebook.codes if code.name in given]
    return kept if kept or not given else None


# The model as a coder


class ModelSuggestion(_Model):
    code: Label
    confidence: float
    start: int
    end: int
    applies: bool | None = None  # the backend flags the code as applying (None: it does not say)


def model_answers(
    segments: Sequence[Segment], suggestions: Sequence[Suggestion], codebook: Codebook
) -> list[list[ModelSuggestion]]:
    """Each segment's suggested codes, best first, with the span accepting one would code. Pure."""
    names = {code.id: code.name for code in codebook.codes}
    return [
        [
            ModelSuggestion(
                code=names[s.code_id],
                confidence=s.confidence,
                start=segment.start if s.quote_start is None else s.quote_start,
                end=segment.end if s.quote_end is None else s.quote_end,
                applies=s.provenance.get("applies"),
            )
            for s in found
            if s.code_id in names
        ]
        for segment, found in zip(segments, by_segment(segments, suggestions), strict=True)
    ]


def model_answer(found: Sequence[ModelSuggestion], codes: Sequence[Label], threshold: float | None) -> Answer:
    """The model's answer on a unit: its suggestions ranked, and as its set those flagged as applying (as
    ``groundcode eval dataset`` reads them), or with ``threshold`` every one at or above it. Pure."""
    answer = answer_of([(s.code, s.confidence, s.applies) for s in found], codes)
    if threshold is None:
        return answer
    chosen = [s.code for s in found if s.confidence >= threshold and s.code in codes]
    return answer.model_copy(update={"predicted": chosen})


class CoderRatings(_Model):
    """One coder's answers on every unit (``None``: did not answer it)."""

    coder: str
    sets: list[list[Label] | None]
    spans: list[dict[Label, list[tuple[int, int]]]]


def human_ratings(units: Sequence[ProjectUnit], coder: str) -> CoderRatings:
    """A researcher's answers. Pure."""
    spans: list[dict[Label, list[tuple[int, int]]]] = []
    for unit in units:
        found: dict[Label, list[tuple[int, int]]] = {}
        for coding in unit.codings:
            if coding.coder == coder:
                found.setdefault(coding.code, []).append((coding.start, coding.end))
        spans.append(found)
    return CoderRatings(coder=coder, sets=[unit.answer(coder) for unit in units], spans=spans)


def model_ratings(answers: Sequence[Sequence[ModelSuggestion]], chosen: Sequence[Answer]) -> CoderRatings:
    """The model's answers as a coder's: its predicted sets, with the spans of those suggestions. Pure."""
    return CoderRatings(
        coder=MODEL,
        sets=[sorted(answer.predicted) for answer in chosen],
        spans=[
            {s.code: [(s.start, s.end)] for s in found if s.code in answer.predicted}
            for found, answer in zip(answers, chosen, strict=True)
        ],
    )


# Scores


class PairScore(_Model):
    """A coder (or the model) against a reference, on the units both answered (the model answers every
    unit), with 95% bootstrap intervals over those units. The model's scores add top-1, top-3 recall and
    abstentions; between researchers the scores are symmetric but for macro F1 (over the reference's codes).
    """

    reference: str
    coder: str
    units: int
    scores: AnswerScores | Agreement  # ``eval.scoring``'s, as ``groundcode eval dataset`` reports them
    span_iou: Number  # mean over (unit, code) both applied; nan when there is none
    span_pairs: int


class CoderSummary(_Model):
    coder: str
    units: int  # answered
    codings: int
    no_code: int  # units answered "no code applies"
    whole_segment: int  # codings spanning exactly their segment
    suggested: int  # accepted suggestions among them


class ProjectScores(_Model):
    units: int
    codes: list[Label]
    reference: str | None  # None: every pair of researchers, and the model against each
    coders: list[CoderSummary]
    model_abstained: int  # units where the model flags no code as applying
    pairs: list[PairScore]
    # Krippendorff's alpha with each unit's set of codes as one category, missing ratings allowed.
    alpha_all: Estimate  # every coder and the model
    alpha_humans: Estimate  # nan with fewer than two researchers


def score_project(
    units: Sequence[ProjectUnit],
    answers: Sequence[Sequence[ModelSuggestion]],
    codes: Sequence[Label],
    *,
    reference: str | None = None,
    threshold: float | None = None,
    seed: int,
    resamples: int,
) -> ProjectScores:
    """The researchers and the model against the reference (or every pair, and the model against each
    researcher), and alpha over all. Pure."""
    coders = sorted(set().union(*(unit.coders for unit in units)))
    if reference is not None and reference not in coders:
        raise ValueError(f"reference coder {reference!r} answered no unit (coders: {', '.join(coders)})")
    humans = {coder: human_ratings(units, coder) for coder in coders}
    used = {code for r in humans.values() for found in r.sets if found for code in found}
    labels = [*codes, *sorted(used - set(codes))]
    chosen = [model_answer(found, labels, threshold) for found in answers]
    model = model_ratings(answers, chosen)
    if reference is None:
        pairs = [(humans[a], humans[b]) for a, b in combinations(coders, 2)]
        references = coders
    else:
        pairs = [(humans[reference], humans[other]) for other in coders if other != reference]
        references = [reference]

    def alpha(ratings: Sequence[CoderRatings]) -> Estimate:
        if len(ratings) < 2:
            return UNDEFINED
        categories: list[list[Rating]] = [
            [None if found is None else set_label(found) for found in r.sets] for r in ratings
        ]
        return bootstrap(
            lambda picked: krippendorff_alpha([[found[i] for i in picked] for found in categories]),
            len(units),
            seed=seed,
            resamples=resamples,
        )

    return ProjectScores(
        units=len(units),
        codes=list(codes),
        reference=reference,
        coders=[_summary(units, coder) for coder in coders],
        model_abstained=sum(not answer.predicted for answer in chosen),
        pairs=[
            *(pair_score(a, b, labels, seed=seed, resamples=resamples) for a, b in pairs),
            *(
                pair_score(humans[coder], model, labels, answers=chosen, seed=seed, resamples=resamples)
                for coder in references
            ),
        ],
        alpha_all=alpha([*humans.values(), model]),
        alpha_humans=alpha(list(humans.values())),
    )


def pair_score(
    reference: CoderRatings,
    other: CoderRatings,
    codes: Sequence[Label],
    *,
    answers: Sequence[Answer] | None = None,
    seed: int,
    resamples: int,
) -> PairScore:
    """``other``'s answers against ``reference``'s on the units both answered, with ``eval.scoring``'s
    ``agreement``, or given the model's ``answers`` (every unit) its ``answer_scores``. Pure."""
    shared = [
        unit
        for unit, (a, b) in enumerate(zip(reference.sets, other.sets, strict=True))
        if a is not None and b is not None
    ]
    gold = [reference.sets[unit] or [] for unit in shared]
    scores: AnswerScores | Agreement
    if not shared:
        scores = _undefined(codes, with_answers=answers is not None)
    elif answers is not None:
        scores = answer_scores(gold, [answers[u] for u in shared], codes, seed=seed, resamples=resamples)
    else:
        given = [other.sets[unit] or [] for unit in shared]
        scores = agreement(gold, given, codes, seed=seed, resamples=resamples)
    overlaps = [
        span_iou(reference.spans[unit][code], other.spans[unit][code])
        for unit in shared
        for code in sorted(reference.spans[unit].keys() & other.spans[unit].keys())
    ]
    return PairScore(
        reference=reference.coder,
        coder=other.coder,
        units=len(shared),
        scores=scores,
        span_iou=sum(overlaps) / len(overlaps) if overlaps else math.nan,
        span_pairs=len(overlaps),
    )


def _undefined(codes: Sequence[Label], *, with_answers: bool) -> AnswerScores | Agreement:
    """Scores on no shared unit: every value undefined."""
    names = AnswerScores.model_fields if with_answers else Agreement.model_fields
    values = {name: UNDEFINED for name in names if name != "undefined_codes"}
    if with_answers:
        return AnswerScores(**values, undefined_codes=len(codes))
    return Agreement(**values, undefined_codes=len(codes))


def _summary(units: Sequence[ProjectUnit], coder: str) -> CoderSummary:
    mine = [(unit, c) for unit in units for c in unit.codings if c.coder == coder]
    return CoderSummary(
        coder=coder,
        units=sum(unit.answer(coder) is not None for unit in units),
        codings=len(mine),
        no_code=sum(unit.answer(coder) == [] for unit in units),
        whole_segment=sum((c.start, c.end) == (unit.start, unit.end) for unit, c in mine),
        suggested=sum(c.suggested for _, c in mine),
    )


# Report


class ProjectOptions(BackendOptions):
    """How a project is evaluated, as given on the command line."""

    project: str
    reference: str | None = None  # a researcher's username; None: every pair
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # None: the suggestions flagged as applying
    resamples: int = Field(default=1000, ge=1)


class ProjectInfo(ReportInfo):
    description: str = "a user's project: its researchers' codings against each other and the suggestions"
    dataset_file: str | None = None
    dataset_version: str | None = None
    options: ProjectOptions


class ProjectReport(_Model):
    kind: Literal["project"] = "project"
    info: ProjectInfo
    scores: ProjectScores
    units: list[ProjectUnit]
    answers: list[list[ModelSuggestion]]


def project_report(
    units: Sequence[ProjectUnit],
    answers: Sequence[Sequence[ModelSuggestion]],
    codebook: Codebook,
    info: ProjectInfo,
) -> ProjectReport:
    options = info.options
    scores = score_project(
        units,
        answers,
        [code.name for code in codebook.codes],
        reference=options.reference,
        threshold=options.threshold,
        seed=options.seed,
        resamples=options.resamples,
    )
    return ProjectReport(
        info=info, scores=scores, units=list(units), answers=[list(found) for found in answers]
    )


def to_markdown(report: ProjectReport) -> str:
    info, scores = report.info, report.scores
    model_set = (
        "its suggestions flagged as applying"
        if info.options.threshold is None
        else f"its suggestions at or above {info.options.threshold}"
    )
    compared = (
        f"every researcher and the model against {scores.reference}"
        if scores.reference
        else "every pair of researchers (the ceiling), and the model against each"
    )
    lines = [
        f"# Human codings vs suggestions: project {info.options.project!r}",
        "",
        "| | |",
        "|---|---|",
        f"| units | {scores.units} answered segments; {len(scores.codes)} codes in the codebook |",
        *provenance_rows(info.provenance),
        f"| the model's codes | {model_set}; none on {scores.model_abstained} units (abstentions, misses) |",
        f"| compared | {compared} |",
        f"| command | `{info.options.command_line('project')}` |",
        f"| created | {info.created_at:%Y-%m-%d %H:%M} UTC |",
        "",
        "## Coders",
        "",
        "| coder | units answered | codings | no code applies | spanning the whole segment | accepted "
        "suggestions |",
        "|---|---|---|---|---|---|",
        *(
            f"| {c.coder} | {c.units} | {c.codings} | {c.no_code} | {c.whole_segment} | {c.suggested} |"
            for c in scores.coders
        ),
        "",
        "## Agreement with the reference",
        "",
        "Scored as `groundcode eval dataset` scores them (`eval/scoring.py`), with 95% bootstrap intervals",
        'over the units both answered: each unit\'s answer is a set of codes, "no code applies" an empty',
        "set that counts; per-code kappa is the mean binary kappa over codes and units, the model's",
        'abstentions counted as "not applied"; alpha and AC1 take each unit\'s set as one category;',
        "top-1, top-3 recall and abstained are the model's; span IoU compares the characters coded with",
        "the same code.",
        "",
        f"| {' | '.join(AGREEMENT_COLUMNS)} |",
        "|" + "---|" * len(AGREEMENT_COLUMNS),
    ]
    lines += [f"| {' | '.join(row)} |" for row in agreement_rows(scores)]
    lines += [
        "",
        "| Krippendorff's alpha (unit's set), missing ratings allowed | value | 95% interval |",
        "|---|---|---|",
        f"| researchers and the model | {' | '.join(estimate_cells(scores.alpha_all))} |",
        f"| researchers only | {' | '.join(estimate_cells(scores.alpha_humans))} |",
    ]
    return "\n".join(lines) + "\n"


SCORE_COLUMNS = {
    "per-code kappa": "per_code_kappa",
    "macro F1": "macro_f1",
    "alpha": "alpha",
    "AC1": "ac1",
    "top-1": "top1",
    "top-3 recall": "top3_recall",
    "abstained": "abstained",
}
AGREEMENT_COLUMNS = ("reference", "coder", "units", *SCORE_COLUMNS, "span IoU (pairs)")


def agreement_rows(scores: ProjectScores, *, intervals: bool = True) -> list[tuple[str, ...]]:
    """Per reference: the model against it, then the researchers (each value with its 95% interval, if
    asked), as the columns of ``AGREEMENT_COLUMNS``; a score that only the model has is blank for a
    researcher."""
    rows = []
    for pair in sorted(scores.pairs, key=lambda pair: (pair.reference, pair.coder != MODEL, pair.coder)):
        cells = []
        for name in SCORE_COLUMNS.values():
            estimate = getattr(pair.scores, name, None)
            cells.append("" if estimate is None else _cell(estimate) if intervals else number(estimate.value))
        iou = f"{number(pair.span_iou)} ({pair.span_pairs})"
        rows.append((pair.reference, pair.coder, str(pair.units), *cells, iou))
    return rows


def write_project_report(report: ProjectReport, folder: Path) -> list[Path]:
    """``report.md`` and ``report.json`` in ``folder``."""
    return write_files(report, to_markdown(report), folder)


def _cell(estimate: Estimate) -> str:
    value, interval = estimate_cells(estimate)
    return f"{value} ({interval})"
