"""Any coded dataset as a benchmark (``groundcode eval dataset``): a CSV of units coded by one or more
researchers, and a codebook, run through the real import, chunk, index, suggest, adjudicate and learn stages.

``UNITS.csv`` has a ``text`` column, an optional ``id`` and one column per coder with that coder's code names
separated by ``;`` (an empty cell: "no code applies"). With a group column a unit may only take the codes
under the codebook's parent code named by its value (a survey question's codes, a news topic's): the
suggest stage ranks every code, so codes outside the unit's group are dropped from what the researcher is
shown and from what is scored (and the baselines rank only the allowed codes).

Each repeat imports the texts into a fresh temporary database (one source, one ``response`` segment per
row), suggests, and lets a simulated researcher review the units in the chosen order in ``steps`` steps
(``eval.simulation.choose_set``). After each step the learn stage runs on the step's decisions and the suggest
stage runs again; the units not reviewed yet are then scored with the suggestions as they are now, with the
first suggestions, and with the baselines (``eval.baselines``), all on the same units.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
import warnings
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from eval import baselines
from eval.metrics import Estimate, Label, Number, bootstrap
from eval.report import ReportInfo, estimate_cells, number, provenance_rows, write_files
from eval.scoring import (
    Agreement,
    Answer,
    AnswerScores,
    Codes,
    agreement,
    answer_scores,
    rest_scores,
)
from eval.simulation import EVERY_SEGMENT, RESEARCHER, choose_set, decide_all, step_ends
from eval.tasks import BackendOptions, Provenance, Setup, import_source, provenance, suggest_codes
from groundcode.app import Groundcode
from groundcode.codebook_io import parse_codebook
from groundcode.domain import Access, Code, Role, SegmentUnit, Stage, Suggestion
from services.adjudication.models import (
    AcceptRequest,
    CodeRequest,
    DecideRequest,
    NoCodeRequest,
    RejectRequest,
)
from services.adjudication.ordering import uncertain_first
from services.chunking.segmenter import ChunkOptions

Order = Literal["source", "random", "uncertain"]
NAMESPACE = "eval-dataset"
PROJECT = "eval-dataset"


class DatasetError(ValueError):
    """A units file or codebook that cannot be benchmarked; the message names the file, row and problem."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetOptions(BackendOptions):
    """How ``groundcode eval dataset`` runs, as given on the command line."""

    units_file: str
    codebook: str
    coders: list[str] = Field(min_length=1)
    gold: str | None = None  # default: the first coder
    group_column: str | None = None
    steps: int = Field(default=10, ge=1)
    order: Order = "source"
    repeats: int = Field(default=3, ge=1)
    limit: int | None = Field(default=None, ge=1)  # the first N units
    resamples: int = Field(default=1000, ge=1)

    @property
    def reference(self) -> str:
        return self.gold or self.coders[0]

    def command_line(self, command: str = "dataset") -> str:
        flags = self.model_dump(exclude={"units_file", "coders"}, exclude_none=True)
        words = [f"--{name.replace('_', '-')} {value}" for name, value in flags.items()]
        return " ".join(
            ["groundcode eval", command, self.units_file, "--coders", ",".join(self.coders), *words]
        )


# The dataset


class CodedUnit(_Model):
    row: int  # 1-based data row of the CSV file
    id: str
    text: str
    codings: dict[str, list[Label]]  # coder -> code keys ([]: "no code applies")
    allowed: list[Label]  # the codes the unit may take


class CodedDataset(_Model):
    units_file: str
    codebook_file: str
    version: str  # SHA-256 prefix of the units file and the codebook
    codebook: list[Code]
    keys: dict[str, Label]  # code id -> name
    codes: list[Label]  # the codes units can take, in codebook order
    coders: list[str]
    gold: str
    units: list[CodedUnit]

    def gold_sets(self) -> list[list[Label]]:
        return [unit.codings[self.gold] for unit in self.units]

    @property
    def single_label(self) -> bool:
        return all(len(codes) <= 1 for unit in self.units for codes in unit.codings.values())


def read_dataset(
    units_file: str,
    units_data: bytes,
    codebook_file: str,
    codebook_text: str,
    *,
    coders: Sequence[str],
    gold: str | None = None,
    group_column: str | None = None,
    limit: int | None = None,
) -> CodedDataset:
    """The units and their codings, checked against the codebook (``DatasetError``). Pure."""
    reference = gold or coders[0]
    if reference not in coders:
        raise DatasetError(f"--gold {reference!r} is not one of the coders {', '.join(coders)}")
    codebook = parse_codebook(codebook_file, codebook_text, namespace=NAMESPACE)
    keys = {code.id: code.name for code in codebook}  # names are unique in a codebook
    groups = {code.name: code.id for code in codebook if any(c.parent_id == code.id for c in codebook)}
    # Codes with sub-codes are categories: segments take the codes under them (as the suggest stage offers).
    codes = [keys[code.id] for code in codebook if code.id not in set(groups.values())]
    try:
        rows = list(csv.DictReader(io.StringIO(units_data.decode("utf-8-sig"))))
        header = list(rows[0]) if rows else []
    except (UnicodeDecodeError, csv.Error) as error:
        raise DatasetError(f"{units_file}: not a UTF-8 CSV file ({error})") from error
    needed = ["text", *coders, *([group_column] if group_column else [])]
    missing = [column for column in needed if column not in header]
    if missing:
        raise DatasetError(f"{units_file}: no column {', '.join(map(repr, missing))} (it has {header})")
    units = []
    for number_, row in enumerate(rows[:limit] if limit else rows, start=1):
        where = f"{units_file}, row {number_}"
        text = (row["text"] or "").strip()
        if not text:
            raise DatasetError(f"{where}: the text is empty")
        allowed, group = codes, ""
        if group_column:
            group = (row[group_column] or "").strip()
            if group not in groups:
                raise DatasetError(f"{where}: {group_column} {group!r} is not a parent code of the codebook")
            allowed = [keys[c.id] for c in codebook if c.parent_id == groups[group]]
        by_name = {code.name: keys[code.id] for code in codebook if keys[code.id] in allowed}
        codings = {}
        for coder in coders:
            names = list(dict.fromkeys(n.strip() for n in (row[coder] or "").split(";") if n.strip()))
            unknown = [name for name in names if name not in by_name]
            if unknown:
                scope = f"under {group!r}" if group_column else "in the codebook"
                raise DatasetError(f"{where}, coder {coder}: code {unknown[0]!r} is not {scope}")
            codings[coder] = sorted(by_name[name] for name in names)
        units.append(
            CodedUnit(
                row=number_, id=(row.get("id") or str(number_)), text=text, codings=codings, allowed=allowed
            )
        )
    if not units:
        raise DatasetError(f"{units_file}: no units")
    digest = hashlib.sha256(units_data + b"\0" + codebook_text.encode("utf-8")).hexdigest()
    return CodedDataset(
        units_file=units_file,
        codebook_file=codebook_file,
        version=digest[:12],
        codebook=codebook,
        keys=keys,
        codes=codes,
        coders=list(coders),
        gold=reference,
        units=units,
    )


def load_dataset(options: DatasetOptions) -> CodedDataset:
    """``read_dataset`` on the options' files."""
    try:
        units = Path(options.units_file).read_bytes()
        codebook = Path(options.codebook).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read the dataset: {error}") from error
    return read_dataset(
        options.units_file,
        units,
        options.codebook,
        codebook,
        coders=options.coders,
        gold=options.gold,
        group_column=options.group_column,
        limit=options.limit,
    )


# One simulated review


class ReviewedUnit(_Model):
    unit: int  # index into the dataset's units
    step: int
    shown: list[Label]  # the candidates' codes as the researcher saw them
    first_shown: list[Label]  # what the first suggestions showed


class CurvePoint(_Model):
    """Scores on the units not reviewed yet, after ``reviewed`` (a fraction) of the units."""

    reviewed: Number
    top1_rest: Number
    first_top1_rest: Number
    per_code_kappa_rest: Number
    first_per_code_kappa_rest: Number
    nearest_code_top1_rest: Number
    nearest_code_per_code_kappa_rest: Number
    logistic_top1_rest: Number
    logistic_per_code_kappa_rest: Number


class RepeatRun(_Model):
    order: list[int]  # the units in the order reviewed
    first: list[Answer]
    reviewed: list[ReviewedUnit]
    curve: list[CurvePoint]
    provenance: Provenance


class Vectors(_Model):
    """The baselines' embeddings: units (queries) and codes (passages)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    units: Any
    codes: Any
    allowed: Any  # units x codes, bool


def embed_dataset(groundcode: Groundcode, dataset: CodedDataset) -> Vectors:
    coded = [code for code in dataset.codebook if dataset.keys[code.id] in dataset.codes]
    units, codes = baselines.embed(groundcode.embedder, [u.text for u in dataset.units], coded)
    allowed = np.array([[code in unit.allowed for code in dataset.codes] for unit in dataset.units])
    return Vectors(units=units, codes=codes, allowed=allowed)


def run_repeat(
    groundcode: Groundcode, dataset: CodedDataset, vectors: Vectors, options: DatasetOptions, repeat: int
) -> RepeatRun:
    """One simulated review of every unit in ``groundcode``'s (empty, temporary) database."""
    setup = setup_dataset(groundcode, dataset)
    user = groundcode.accounts.add_user(RESEARCHER)
    groundcode.accounts.set_member(setup.project.id, user.id, Role.CODER)
    who = Access(project=setup.project, user=user, role=Role.CODER)
    gold = dataset.gold_sets()
    exemplars = groundcode.settings.suggestion_exemplars
    suggestions = suggest_codes(groundcode, setup, exemplars=exemplars)
    first = current = _answers(groundcode, who, setup, dataset)
    nearest = baselines.nearest_code(vectors.units, vectors.codes, dataset.codes, vectors.allowed)
    fixed = list(range(len(gold)))
    if options.order == "random":
        random.Random(options.seed * 1000 + repeat).shuffle(fixed)
    done: list[int] = []
    reviewed: list[ReviewedUnit] = []
    curve = [_point(dataset, vectors, options, done, current, first, nearest)]
    ends = step_ends(len(gold), options.steps)
    for step, end in enumerate(ends, start=1):
        pending = [unit for unit in fixed if unit not in set(done)]
        if options.order == "uncertain":
            margins = {str(unit): current[unit].confidences for unit in pending}
            pending = [int(unit) for unit in uncertain_first([str(unit) for unit in pending], margins)]
        decision_ids: list[str] = []
        for unit in pending[: end - len(done)]:
            shown, ids = _review(groundcode, who, setup, dataset, unit)
            decision_ids += ids
            reviewed.append(ReviewedUnit(unit=unit, step=step, shown=shown, first_shown=first[unit].ranked))
            done.append(unit)
        if end == len(gold):
            break
        handlers = groundcode.handlers()
        for decision_id in decision_ids:
            handlers[Stage.LEARN](decision_id)
        suggestions += suggest_codes(groundcode, setup, exemplars=exemplars)
        current = _answers(groundcode, who, setup, dataset)
        curve.append(_point(dataset, vectors, options, done, current, first, nearest))
    return RepeatRun(
        order=done,
        first=first,
        reviewed=reviewed,
        curve=curve,
        provenance=provenance(groundcode, suggestions),
    )


def setup_dataset(groundcode: Groundcode, dataset: CodedDataset) -> Setup:
    """The codebook (indexed) and the units as one CSV source, one ``response`` segment per row (chunked and
    indexed), as ``groundcode import --unit response --csv-column text`` would."""
    repository = groundcode.repository
    project = repository.ensure_project(PROJECT)
    codebook, _ = repository.save_codebook(project.id, Path(dataset.codebook_file).stem, dataset.codebook)
    groundcode.handlers()[Stage.INDEX_CODEBOOK](codebook.id)
    texts = io.StringIO()
    writer = csv.writer(texts)
    writer.writerows([["text"], *([unit.text] for unit in dataset.units)])
    data = texts.getvalue().encode("utf-8")
    chunk = ChunkOptions(unit=SegmentUnit.RESPONSE)
    source_id = import_source(groundcode, project.id, "units.csv", data, chunk, csv_column="text")
    segments = repository.list_segments(source_id)
    if [segment.text.strip() for segment in segments] != [unit.text for unit in dataset.units]:
        raise DatasetError(f"{dataset.units_file}: the units were not imported one segment per row")
    return Setup(project=project, codebook=codebook, source_ids=[source_id], segments=segments)


def _answers(groundcode: Groundcode, who: Access, setup: Setup, dataset: CodedDataset) -> list[Answer]:
    """Every unit's candidates as the review page ranks them for ``who`` (their scope, deductive, by
    confidence), restricted to the unit's allowed codes: read from the suggestion store at once rather than
    one review page per unit."""
    found: dict[str, list[Suggestion]] = {segment.id: [] for segment in setup.segments}
    scope = groundcode.suggestions.scope_for(who.project.id, who.user.id)
    for source_id in setup.source_ids:
        for suggestion in groundcode.suggestions.list_for_source(source_id, coder_id=scope):
            if suggestion.mode == "deductive" and suggestion.code_id in dataset.keys:
                found.setdefault(suggestion.segment_id, []).append(suggestion)
    return [
        answer_of(
            [
                (dataset.keys[s.code_id or ""], s.confidence, s.provenance.get("applies"))
                for s in sorted(found[segment.id], key=lambda s: -s.confidence)
            ],
            unit.allowed,
        )
        for segment, unit in zip(setup.segments, dataset.units, strict=True)
    ]


def answer_of(candidates: Sequence[tuple[Label, float, Any]], allowed: Sequence[Label]) -> Answer:
    """An answer from ranked ``(code, confidence, applies)`` candidates, those not allowed left out. The
    predicted set: the candidates flagged as applying; where the backend flags none (no ``applies`` yet),
    the best candidate. Pure."""
    kept = [candidate for candidate in candidates if candidate[0] in allowed]
    flagged = any(applies is not None for _, _, applies in kept)
    return Answer(
        ranked=[code for code, _, _ in kept],
        predicted=[code for code, _, applies in kept if applies] if flagged else [c for c, _, _ in kept[:1]],
        confidences=[confidence for _, confidence, _ in kept],
    )


def _review(
    groundcode: Groundcode, who: Access, setup: Setup, dataset: CodedDataset, unit: int
) -> tuple[list[Label], list[str]]:
    """Review one unit on its review page; returns the codes shown and the decisions' ids."""
    segment, allowed = setup.segments[unit], dataset.units[unit].allowed
    view = groundcode.adjudication.segment_view(who, EVERY_SEGMENT, segment.id)
    assert view is not None  # a named segment always has a view
    shown = [
        candidate
        for candidate in view.candidates
        if candidate.mode == "deductive" and dataset.keys.get(candidate.code_id or "") in allowed
    ]
    names = [dataset.keys[candidate.code_id or ""] for candidate in shown]
    choice = choose_set(names, dataset.units[unit].codings[dataset.gold])
    ids = {key: code_id for code_id, key in dataset.keys.items()}
    requests: list[DecideRequest] = [
        RejectRequest(suggestion_id=shown[index].suggestion_id, reason="wrong_code", version=0)
        for index in choice.rejected
    ]
    if choice.accepted:
        requests.append(
            AcceptRequest(suggestion_ids=[shown[i].suggestion_id for i in choice.accepted], version=0)
        )
    requests += [
        CodeRequest(segment_id=segment.id, code_id=ids[code], start=segment.start, end=segment.end, version=0)
        for code in choice.coded
    ]
    if choice.no_code:
        requests.append(NoCodeRequest(segment_id=segment.id, version=0))
    return names, decide_all(groundcode, who, requests)


def _point(
    dataset: CodedDataset,
    vectors: Vectors,
    options: DatasetOptions,
    done: Sequence[int],
    current: Sequence[Answer],
    first: Sequence[Answer],
    nearest: Sequence[Answer],
) -> CurvePoint:
    """The learning curve after the ``done`` units were reviewed: every method on the rest."""
    gold = dataset.gold_sets()
    rest = [unit for unit in range(len(gold)) if unit not in set(done)]
    logistic = baselines.logistic(
        vectors.units,
        gold,
        done,
        dataset.codes,
        vectors.allowed,
        single_label=dataset.single_label,
        seed=options.seed,
    )

    def on_rest(answers: Sequence[Answer]) -> tuple[float, float]:
        return rest_scores([gold[u] for u in rest], [answers[u] for u in rest], dataset.codes)

    scores = {
        name: on_rest(answers)
        for name, answers in (
            ("", current),
            ("first_", first),
            ("nearest_code_", nearest),
            ("logistic_", logistic),
        )
    }
    if not done:
        scores["logistic_"] = (math.nan, math.nan)
    return CurvePoint(
        reviewed=len(done) / len(gold),
        **{f"{name}top1_rest": top for name, (top, _) in scores.items()},
        **{f"{name}per_code_kappa_rest": kappa for name, (_, kappa) in scores.items()},
    )


# The report


class HumanPair(Agreement):
    """Two researchers' agreement (the ceiling a model can reach); the first is the reference for F1."""

    coders: list[str]


class ReviewScores(_Model):
    """The simulated review, pooled over repeats (accept rate: over the units with gold codes)."""

    accept_rate: Number
    decisions_per_unit: Number
    first_decisions_per_unit: Number  # the same review with the first suggestions
    decisions_saved_per_unit: Estimate  # first minus with learning, per unit averaged over repeats


class Baselines(_Model):
    nearest_code: AnswerScores  # zero-shot, on all units
    methods: dict[str, str]


class DatasetInfo(ReportInfo):
    options: DatasetOptions
    command: str


class DatasetReport(_Model):
    kind: Literal["dataset"] = "dataset"
    units: int
    codes: list[Label]
    gold: str
    first: AnswerScores
    humans: list[HumanPair]
    learning_curve: list[CurvePoint]
    review: ReviewScores
    baselines: Baselines
    info: DatasetInfo


BASELINE_METHODS = {
    "nearest_code": "zero-shot: codes ranked by cosine between the unit (query) and the code's name, "
    "definition, inclusion and examples (passage), same embedder; predicted set: the nearest code",
    "logistic": "scikit-learn logistic regression on the frozen unit embeddings, trained on the units "
    "reviewed so far (one-vs-rest, p >= 0.5; single-label data: multinomial, the most probable class, "
    "'no code' included)",
}


def dataset_report(
    dataset: CodedDataset, runs: Sequence[RepeatRun], vectors: Vectors, options: DatasetOptions
) -> DatasetReport:
    """Every score of the runs. Pure."""
    gold, codes = dataset.gold_sets(), dataset.codes
    seed, resamples = options.seed, options.resamples
    nearest = baselines.nearest_code(vectors.units, vectors.codes, codes, vectors.allowed)
    info = DatasetInfo(
        description=f"{dataset.units_file}: {len(gold)} units coded by {', '.join(dataset.coders)}",
        dataset_file=f"{dataset.units_file} + {dataset.codebook_file}",
        dataset_version=dataset.version,
        provenance=runs[0].provenance,
        options=options,
        command=options.command_line(),
    )
    return DatasetReport(
        units=len(gold),
        codes=codes,
        gold=dataset.gold,
        first=answer_scores(gold, runs[0].first, codes, seed=seed, resamples=resamples),
        humans=human_pairs(dataset, seed=seed, resamples=resamples),
        learning_curve=mean_curve([run.curve for run in runs]),
        review=review_scores(gold, runs, seed=seed, resamples=resamples),
        baselines=Baselines(
            nearest_code=answer_scores(gold, nearest, codes, seed=seed, resamples=resamples),
            methods=BASELINE_METHODS,
        ),
        info=info,
    )


def human_pairs(dataset: CodedDataset, *, seed: int, resamples: int) -> list[HumanPair]:
    """Every pair of coders, the gold coder (else the first named) as the reference. Pure."""
    ordered = sorted(dataset.coders, key=lambda coder: coder != dataset.gold)
    return [
        HumanPair(
            coders=[a, b],
            **agreement(
                [u.codings[a] for u in dataset.units],
                [u.codings[b] for u in dataset.units],
                dataset.codes,
                seed=seed,
                resamples=resamples,
            ).model_dump(),
        )
        for a, b in combinations(ordered, 2)
    ]


def mean_curve(curves: Sequence[Sequence[CurvePoint]]) -> list[CurvePoint]:
    """The curves averaged point by point (a value undefined in a repeat is left out of its mean). Pure."""
    points = []
    for same in zip(*curves, strict=True):
        values = np.array([list(point.model_dump().values()) for point in same], dtype=float)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all nan: nan
            means = np.nanmean(values, axis=0)
        points.append(CurvePoint(**dict(zip(CurvePoint.model_fields, means.tolist(), strict=True))))
    return points


def review_scores(
    gold: Sequence[Codes], runs: Sequence[RepeatRun], *, seed: int, resamples: int
) -> ReviewScores:
    """What the review cost with learning and with the first suggestions, pooled over repeats. Pure."""
    learning = [[choose_set(r.shown, gold[r.unit]) for r in run.reviewed] for run in runs]
    first = [[choose_set(r.first_shown, gold[r.unit]) for r in run.reviewed] for run in runs]
    coded = [bool(gold[r.unit]) for run in runs for r in run.reviewed]
    accepted = [bool(choice.accepted) for choices in learning for choice in choices]
    saved = np.zeros(len(gold))
    for run, with_learning, without in zip(runs, learning, first, strict=True):
        for item, a, b in zip(run.reviewed, with_learning, without, strict=True):
            saved[item.unit] += (b.decisions - a.decisions) / len(runs)
    return ReviewScores(
        accept_rate=sum(a for a, c in zip(accepted, coded, strict=True) if c) / sum(coded)
        if any(coded)
        else math.nan,
        decisions_per_unit=float(np.mean([c.decisions for choices in learning for c in choices])),
        first_decisions_per_unit=float(np.mean([c.decisions for choices in first for c in choices])),
        decisions_saved_per_unit=bootstrap(
            lambda units: float(saved[list(units)].mean()) if units else math.nan,
            len(gold),
            seed=seed,
            resamples=resamples,
        ),
    )


# Markdown


def to_markdown(report: DatasetReport) -> str:
    info, first, nearest = report.info, report.first, report.baselines.nearest_code
    rows = [
        ("top-1", "top1"),
        ("top-3 recall (units with gold codes)", "top3_recall"),
        ("per-code kappa (mean over codes)", "per_code_kappa"),
        ("macro F1 (codes in gold)", "macro_f1"),
        ("Krippendorff's alpha (unit's set as category)", "alpha"),
        ("Gwet's AC1 (unit's set as category)", "ac1"),
        ("abstained (no code predicted, gold has one)", "abstained"),
    ]

    def cell(scores: BaseModel, name: str) -> str:
        value, interval = estimate_cells(getattr(scores, name))
        return f"{value} ({interval})"

    curve_columns = list(CurvePoint.model_fields)
    lines = [
        f"# Dataset benchmark: {info.options.units_file}",
        "",
        info.description,
        "",
        "| | |",
        "|---|---|",
        f"| dataset | `{info.dataset_file}`, version (SHA-256 prefix) `{info.dataset_version}` |",
        f"| units / codes | {report.units} / {len(report.codes)} |",
        f"| gold | {report.gold} |",
        *provenance_rows(info.provenance),
        f"| order, steps, repeats | {info.options.order}, {info.options.steps}, {info.options.repeats} |",
        f"| seed | {info.options.seed} |",
        f"| command | `{info.command}` |",
        f"| created | {info.created_at:%Y-%m-%d %H:%M} UTC |",
        "",
        "## First suggestions (before any decision), with 95% bootstrap intervals over units",
        "",
        'An empty cell is "no code applies", a real answer; an abstention is a miss. Codes no one varied',
        f"on are left out of per-code kappa ({first.undefined_codes} here; nearest code: "
        f"{nearest.undefined_codes}).",
        "",
        "| metric | groundcode | nearest-code baseline |",
        "|---|---|---|",
        *(f"| {label} | {cell(first, name)} | {cell(nearest, name)} |" for label, name in rows),
        "",
        "## Human agreement (the ceiling)",
        "",
        "| coders | per-code kappa | macro F1 | alpha | AC1 |",
        "|---|---|---|---|---|",
        *(
            f"| {' / '.join(pair.coders)} | "
            + " | ".join(cell(pair, name) for name in ("per_code_kappa", "macro_f1", "alpha", "ac1"))
            + " |"
            for pair in report.humans
        ),
        *([] if report.humans else ["| (one coder: no ceiling) | | | | |"]),
        "",
        "## Learning curve: the units not reviewed yet, averaged over repeats",
        "",
        "| " + " | ".join(curve_columns) + " |",
        "|" + "---|" * len(curve_columns),
        *(
            "| " + " | ".join(number(getattr(point, name)) for name in curve_columns) + " |"
            for point in report.learning_curve
        ),
        "",
        "## Simulated review",
        "",
        "| | with learning | first suggestions only |",
        "|---|---|---|",
        f"| accept rate | {number(report.review.accept_rate)} | |",
        f"| decisions per unit | {number(report.review.decisions_per_unit)} | "
        f"{number(report.review.first_decisions_per_unit)} |",
        f"| decisions saved per unit | {cell(report.review, 'decisions_saved_per_unit')} | |",
        "",
        "## Baselines",
        "",
        *(f"* `{name}`: {text}" for name, text in report.baselines.methods.items()),
    ]
    return "\n".join(lines) + "\n"


def write_dataset_report(report: DatasetReport, folder: Path) -> list[Path]:
    """``report.md`` and ``report.json`` in ``folder``."""
    return write_files(report, to_markdown(report), folder)
