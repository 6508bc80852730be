"""A user's human-coded project as an evaluation dataset: its human codings scored against each other and
against the suggestion model, treated as one more coder.

Units are the segments that carry a human coding (any coder's: hand-made, imported from a CSV file or a
REFI-QDA project, or an accepted suggestion). The project is copied (sources, segments, latest codebook)
into an evaluation database, so the model's suggestions are made there, with every code a candidate and no
exemplars, and nothing is written to the user's project.

A coder's label on a unit, for the single-label coefficients (Cohen's kappa, Krippendorff's alpha, Gwet's
AC1), is the code covering most of the segment (the first decided on a tie); F1 compares the sets of codes;
span IoU compares the characters coded with the same code. The model's label is its top suggestion, and its
set the top suggestion, or with a threshold every suggestion at or above it. A coder who did not code a
unit is a missing rating there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eval.metrics import (
    Estimate,
    Label,
    Number,
    Rating,
    bootstrap,
    cohen_kappa,
    gwet_ac1,
    krippendorff_alpha,
    multilabel_f1,
    span_iou,
)
from eval.report import ReportInfo, estimate_cells, number, provenance_rows, write_files
from eval.tasks import BackendOptions, Setup, by_segment
from groundcode.app import Groundcode
from groundcode.domain import Codebook, Coding, Project, Segment, Source, Stage, Suggestion
from services.adjudication import state

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
    """A segment with human codings."""

    segment_id: str
    source: str
    start: int
    end: int
    text: str
    codings: list[HumanCoding]


class ProjectData(_Model):
    """What an evaluation reads from a user's project."""

    project: Project
    codebook: Codebook
    sources: list[Source]  # those with units
    segments: dict[str, list[Segment]]  # every segment of those sources, by source id
    units: list[ProjectUnit]  # in source and segment order


def project_units(
    codings: Sequence[Coding],
    sources: Sequence[Source],
    segments: dict[str, list[Segment]],
    code_names: dict[str, str],
    usernames: dict[str, str],
) -> list[ProjectUnit]:
    """One unit per segment with codings, in source and segment order. Pure."""
    by_segment: dict[str, list[Coding]] = {}
    for coding in codings:
        by_segment.setdefault(coding.segment_id, []).append(coding)
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
                for c in by_segment[segment.id]
            ],
        )
        for source in sources
        for segment in segments.get(source.id, [])
        if segment.id in by_segment
    ]


def read_project(groundcode: Groundcode, name: str) -> ProjectData:
    """The project's latest codebook and the segments its researchers coded (``NotFoundError``,
    ``ValueError`` when there is nothing to evaluate)."""
    repository = groundcode.repository
    project = repository.get_project(name)
    codebook = repository.latest_codebook(project.id)
    if codebook is None:
        raise ValueError(f"project {name!r} has no codebook")
    codings = state.codings(groundcode.decisions.list(project.id))
    coded = {coding.source_id for coding in codings}
    sources = [source for source in repository.list_sources(project.id) if source.id in coded]
    segments = {source.id: repository.list_segments(source.id) for source in sources}
    names = {code_id: code.name for code_id, code in repository.code_index(project.id).items()}
    users = {user.id: user.username for user in groundcode.accounts.list_users()}
    units = project_units(codings, sources, segments, names, users)
    if not units:
        raise ValueError(f"project {name!r} has no human codings")
    return ProjectData(project=project, codebook=codebook, sources=sources, segments=segments, units=units)


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


def gold_codes(unit: ProjectUnit, codebook: Codebook) -> list[Label]:
    """The codes any researcher gave the unit that the codebook still has (a simulated researcher can only
    code those), in codebook order. Pure."""
    given = {coding.code for coding in unit.codings}
    return [code.name for code in codebook.codes if code.name in given]


# The model as a coder


class ModelSuggestion(_Model):
    code: Label
    confidence: float
    start: int
    end: int


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
            )
            for s in found
            if s.code_id in names
        ]
        for segment, found in zip(segments, by_segment(segments, suggestions), strict=True)
    ]


class CoderRatings(_Model):
    """One coder's ratings of every unit (``None``/empty: did not code it)."""

    coder: str
    labels: list[Rating]  # single label: the code covering most of the segment (the model: its top one)
    sets: list[list[Label]]
    spans: list[dict[Label, list[tuple[int, int]]]]


def human_ratings(units: Sequence[ProjectUnit], coder: str) -> CoderRatings:
    """A researcher's ratings. Pure."""
    labels: list[Rating] = []
    sets: list[list[Label]] = []
    spans: list[dict[Label, list[tuple[int, int]]]] = []
    for unit in units:
        mine = [c for c in unit.codings if c.coder == coder]
        covered = max(mine, key=lambda c: min(c.end, unit.end) - max(c.start, unit.start), default=None)
        labels.append(covered.code if covered else None)
        sets.append(sorted({c.code for c in mine}))
        found: dict[Label, list[tuple[int, int]]] = {}
        for coding in mine:
            found.setdefault(coding.code, []).append((coding.start, coding.end))
        spans.append(found)
    return CoderRatings(coder=coder, labels=labels, sets=sets, spans=spans)


def model_ratings(answers: Sequence[Sequence[ModelSuggestion]], threshold: float | None) -> CoderRatings:
    """The model's ratings: its top suggestion; as a set, the top one or all at or above ``threshold``.
    ``answers[i]`` are unit ``i``'s suggestions, best first. Pure."""
    chosen = [
        [s for s in found if s.confidence >= threshold] if threshold is not None else list(found[:1])
        for found in answers
    ]
    return CoderRatings(
        coder=MODEL,
        labels=[found[0].code if found else None for found in answers],
        sets=[sorted({s.code for s in found}) for found in chosen],
        spans=[{s.code: [(s.start, s.end)] for s in found} for found in chosen],
    )


# Scores


class PairScore(_Model):
    """Two coders on the units both coded, with 95% bootstrap intervals over those units."""

    first: str
    second: str
    units: int
    cohen_kappa: Estimate
    krippendorff_alpha: Estimate
    gwet_ac1: Estimate
    f1: Estimate  # micro F1 of the code sets (symmetric: either coder may be the reference)
    span_iou: Number  # mean over (unit, code) both applied; nan when there is none
    span_pairs: int


class CoderSummary(_Model):
    coder: str
    units: int
    codings: int
    whole_segment: int  # codings spanning exactly their segment
    suggested: int  # accepted suggestions among them


class ProjectScores(_Model):
    units: int
    codes: list[Label]
    coders: list[CoderSummary]
    model_abstained: int  # units without any suggestion
    pairs: list[PairScore]
    alpha_all: Estimate  # Krippendorff's alpha, every coder and the model, missing ratings allowed
    alpha_humans: Estimate  # nan with fewer than two researchers


def score_project(
    units: Sequence[ProjectUnit],
    answers: Sequence[Sequence[ModelSuggestion]],
    codes: Sequence[Label],
    *,
    threshold: float | None,
    seed: int,
    resamples: int,
) -> ProjectScores:
    """Every researcher against the model and against each other, and alpha over all. Pure."""
    coders = sorted({c.coder for unit in units for c in unit.codings})
    humans = [human_ratings(units, coder) for coder in coders]
    model = model_ratings(answers, threshold)
    every = [*humans, model]
    used = {code for r in every for found in r.sets for code in found}
    labels = sorted({*codes, *used, *(label for r in every for label in r.labels if label is not None)})

    def alpha(ratings: Sequence[CoderRatings]) -> Estimate:
        if len(ratings) < 2:
            return UNDEFINED
        return bootstrap(
            lambda picked: krippendorff_alpha([[r.labels[i] for i in picked] for r in ratings]),
            len(units),
            seed=seed,
            resamples=resamples,
        )

    return ProjectScores(
        units=len(units),
        codes=list(codes),
        coders=[_summary(units, coder) for coder in coders],
        model_abstained=sum(not found for found in answers),
        pairs=[
            pair_score(a, b, labels, seed=seed, resamples=resamples)
            for a, b in [*combinations(humans, 2), *((h, model) for h in humans)]
        ],
        alpha_all=alpha(every),
        alpha_humans=alpha(humans),
    )


def pair_score(
    first: CoderRatings, second: CoderRatings, labels: Sequence[Label], *, seed: int, resamples: int
) -> PairScore:
    """Two coders' agreement on the units both coded. Pure."""
    shared = [
        unit
        for unit, (a, b) in enumerate(zip(first.labels, second.labels, strict=True))
        if a is not None and b is not None
    ]

    def interval(statistic: Callable[[list[int]], float]) -> Estimate:
        if not shared:
            return UNDEFINED
        return bootstrap(
            lambda picked: statistic([shared[i] for i in picked]), len(shared), seed=seed, resamples=resamples
        )

    def pick(values: Sequence[Rating], units: Sequence[int]) -> list[Rating]:
        return [values[unit] for unit in units]

    overlaps = [
        span_iou(first.spans[unit][code], second.spans[unit][code])
        for unit in shared
        for code in sorted(first.spans[unit].keys() & second.spans[unit].keys())
    ]
    return PairScore(
        first=first.coder,
        second=second.coder,
        units=len(shared),
        cohen_kappa=interval(
            lambda units: cohen_kappa(pick(first.labels, units), pick(second.labels, units))
        ),
        krippendorff_alpha=interval(
            lambda units: krippendorff_alpha([pick(first.labels, units), pick(second.labels, units)])
        ),
        gwet_ac1=interval(
            lambda units: gwet_ac1([pick(first.labels, units), pick(second.labels, units)], labels)
        ),
        f1=interval(
            lambda units: multilabel_f1(
                [first.sets[u] for u in units], [second.sets[u] for u in units], labels, "micro"
            )
        ),
        span_iou=sum(overlaps) / len(overlaps) if overlaps else math.nan,
        span_pairs=len(overlaps),
    )


def _summary(units: Sequence[ProjectUnit], coder: str) -> CoderSummary:
    mine = [(unit, c) for unit in units for c in unit.codings if c.coder == coder]
    return CoderSummary(
        coder=coder,
        units=len({unit.segment_id for unit, _ in mine}),
        codings=len(mine),
        whole_segment=sum((c.start, c.end) == (unit.start, unit.end) for unit, c in mine),
        suggested=sum(c.suggested for _, c in mine),
    )


# Report


class ProjectOptions(BackendOptions):
    """How a project is evaluated, as given on the command line."""

    project: str
    threshold: float | None = Field(default=None, ge=0.0, le=1.0)  # None: the model's set is its top one
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
        "its top suggestion"
        if info.options.threshold is None
        else f"its suggestions at or above {info.options.threshold}"
    )
    lines = [
        f"# Human codings vs suggestions: project {info.options.project!r}",
        "",
        "| | |",
        "|---|---|",
        f"| units | {scores.units} coded segments; {len(scores.codes)} codes in the codebook |",
        *provenance_rows(info.provenance),
        f"| the model's codes | {model_set}; no suggestion on {scores.model_abstained} units |",
        f"| command | `{info.options.command_line('project')}` |",
        f"| created | {info.created_at:%Y-%m-%d %H:%M} UTC |",
        "",
        "## Coders",
        "",
        "| coder | units | codings | spanning the whole segment | accepted suggestions |",
        "|---|---|---|---|---|",
        *(
            f"| {c.coder} | {c.units} | {c.codings} | {c.whole_segment} | {c.suggested} |"
            for c in scores.coders
        ),
        "",
        "## Agreement: each researcher with the model, next to the other researchers (the ceiling)",
        "",
        "95% bootstrap intervals over the units both coded. Kappa, alpha and AC1 compare each coder's code",
        "covering most of the segment (the model's top suggestion); F1 the sets of codes; span IoU the",
        "characters coded with the same code.",
        "",
        f"| {' | '.join(AGREEMENT_COLUMNS)} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(row)} |" for row in agreement_rows(scores)]
    lines += [
        "",
        "| Krippendorff's alpha, missing ratings allowed | value | 95% interval |",
        "|---|---|---|",
        f"| researchers and the model | {' | '.join(estimate_cells(scores.alpha_all))} |",
        f"| researchers only | {' | '.join(estimate_cells(scores.alpha_humans))} |",
    ]
    return "\n".join(lines) + "\n"


AGREEMENT_COLUMNS = (
    "coder",
    "with",
    "units",
    "Cohen's kappa",
    "Krippendorff's alpha",
    "Gwet's AC1",
    "F1",
    "span IoU (pairs)",
)


def agreement_rows(scores: ProjectScores, *, intervals: bool = True) -> list[tuple[str, ...]]:
    """Per researcher: their agreement with the model, then with each other researcher (each value with its
    95% interval, if asked), as the columns of ``AGREEMENT_COLUMNS``."""
    rows = []
    for coder in scores.coders:
        mine = [pair for pair in scores.pairs if coder.coder in (pair.first, pair.second)]
        for pair in sorted(mine, key=lambda pair: (pair.second != MODEL, pair.first, pair.second)):
            other = pair.second if pair.first == coder.coder else pair.first
            estimates = (pair.cohen_kappa, pair.krippendorff_alpha, pair.gwet_ac1, pair.f1)
            iou = f"{number(pair.span_iou)} ({pair.span_pairs})"
            cells = [_cell(e) if intervals else number(e.value) for e in estimates]
            rows.append((coder.coder, other, str(pair.units), *cells, iou))
    return rows


def write_project_report(report: ProjectReport, folder: Path) -> list[Path]:
    """``report.md`` and ``report.json`` in ``folder``."""
    return write_files(report, to_markdown(report), folder)


def _cell(estimate: Estimate) -> str:
    value, interval = estimate_cells(estimate)
    return f"{value} ({interval})"
