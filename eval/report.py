"""Reports of evaluation runs: scores and provenance as models (pure), and a folder with ``report.md``,
``report.json`` and PNG plots (``write_report``, the only I/O here)."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from eval import plots
from eval.metrics import AssignmentScores, Coverage, Estimate, coverage, one_to_one_matches, score_assignment
from eval.seeds import TaskName
from eval.tasks import AxialRun, OpenCodingRun, Prediction, Provenance, RunOptions
from groundcode.domain import utcnow

SWEEP = [round(0.80 + step / 100, 2) for step in range(21)]
"""Thresholds the open-coding report shows recall and precision at (E5 similarities are mostly above 0.8)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReportInfo(_Model):
    """What a report's numbers depend on (and its options, in each kind of report)."""

    description: str
    dataset_file: str | None  # None for a user's project
    dataset_version: str | None  # the first 12 hex digits of the dataset file's SHA-256
    provenance: Provenance
    created_at: datetime = Field(default_factory=utcnow)


class RunInfo(ReportInfo):
    task: TaskName
    options: RunOptions


class AxialReport(_Model):
    kind: Literal["axial"] = "axial"
    info: RunInfo
    codes: list[str]
    scores: AssignmentScores
    predictions: list[Prediction]


class NamedMatch(_Model):
    label: str
    concept: str
    similarity: float


class OpenCodingReport(_Model):
    kind: Literal["open-coding"] = "open-coding"
    info: RunInfo
    threshold_rule: str
    coverage: Coverage
    sweep: list[Coverage]
    matches: list[NamedMatch]
    unmatched_concepts: list[str]
    labels: list[str]


Report = AxialReport | OpenCodingReport


def axial_report(run: AxialRun, info: RunInfo) -> AxialReport:
    """Every score of an axial-assignment run, with bootstrap intervals seeded by the run's seed."""
    codes = [parent.name for parent in run.dataset.parents]
    predictions = run.predictions
    scores = score_assignment(
        [p.gold for p in predictions],
        [p.ranked for p in predictions],
        [p.confidences[0] if p.confidences else None for p in predictions],
        codes,
        seed=info.options.seed,
        resamples=info.options.resamples,
    )
    return AxialReport(info=info, codes=codes, scores=scores, predictions=predictions)


def open_coding_report(run: OpenCodingRun, info: RunInfo) -> OpenCodingReport:
    """How many published concepts the proposed labels recover, at the options' threshold (default: the
    highest similarity between two distinct published concepts, so a match is closer than any two of them)."""
    threshold = info.options.threshold
    similarity = np.asarray(run.similarity).reshape(len(run.labels), len(run.published))
    between = np.asarray(run.published_similarity)
    ceiling = float(between[~np.eye(len(between), dtype=bool)].max())
    used = ceiling if threshold is None else threshold
    rule = (
        "given on the command line"
        if threshold is not None
        else "the highest similarity between two distinct published concepts"
    )
    matches = one_to_one_matches(similarity, used)
    recovered = {match.published for match in matches}
    return OpenCodingReport(
        info=info,
        threshold_rule=rule,
        coverage=coverage(similarity, used),
        sweep=[coverage(similarity, value) for value in SWEEP],
        matches=[
            NamedMatch(
                label=run.labels[match.generated],
                concept=run.published[match.published],
                similarity=match.similarity,
            )
            for match in sorted(matches, key=lambda match: -match.similarity)
        ],
        unmatched_concepts=[name for index, name in enumerate(run.published) if index not in recovered],
        labels=run.labels,
    )


def headline(report: Report) -> list[tuple[str, str, str]]:
    """The main numbers as (metric, value, 95% interval or note) rows, for the terminal and Markdown."""
    if isinstance(report, OpenCodingReport):
        found = report.coverage
        return [
            ("threshold", f"{found.threshold:.3f}", report.threshold_rule),
            ("recall", number(found.recall), f"{found.matched} of {found.published} published concepts"),
            ("precision", number(found.precision), f"{found.matched} of {found.generated} proposed labels"),
        ]
    scores = report.scores
    return [
        ("units", str(scores.units), f"{scores.predicted} with a suggestion"),
        ("accuracy", *estimate_cells(scores.accuracy)),
        ("majority-code accuracy", number(scores.majority_accuracy), "always the most frequent gold code"),
        *((f"top-{k} recall", *estimate_cells(value)) for k, value in scores.top_k_recall.items()),
        ("micro F1", *estimate_cells(scores.micro_f1)),
        ("macro F1", *estimate_cells(scores.macro_f1)),
        ("Cohen's kappa", *estimate_cells(scores.cohen_kappa)),
        ("Krippendorff's alpha", *estimate_cells(scores.krippendorff_alpha)),
        ("Gwet's AC1", *estimate_cells(scores.gwet_ac1)),
        ("multi-label micro F1", number(scores.multilabel_micro_f1), ""),
        ("multi-label macro F1", number(scores.multilabel_macro_f1), ""),
        ("ECE", number(scores.calibration.expected_calibration_error), "expected calibration error"),
    ]


def to_markdown(report: Report) -> str:
    info = report.info
    lines = [
        f"# Evaluation: {info.task.value}",
        "",
        info.description,
        "",
        "| | |",
        "|---|---|",
        f"| dataset | `{info.dataset_file}`, version `{info.dataset_version}` |",
        *provenance_rows(info.provenance),
        f"| seed | {info.options.seed} |",
        f"| units | {'all' if info.options.limit is None else f'at most {info.options.limit}'} |",
        f"| command | `{info.options.command_line(info.task)}` |",
        f"| created | {info.created_at:%Y-%m-%d %H:%M} UTC |",
        "",
    ]
    if isinstance(report, AxialReport):
        lines += _axial_markdown(report)
    else:
        lines += _open_coding_markdown(report)
    return "\n".join(lines) + "\n"


def _axial_markdown(report: AxialReport) -> list[str]:
    scores = report.scores
    lines = [
        f"## Scores (95% bootstrap intervals, {report.info.options.resamples} resamples of the units)",
        "",
        "| metric | value | 95% interval or note |",
        "|---|---|---|",
        *(f"| {metric} | {value} | {note} |" for metric, value, note in headline(report)),
        "",
        "Single-label scores use the best suggestion; a unit with several gold codes counts as right when",
        "it is any of them. Agreement coefficients treat the model and the gold as two coders and leave out",
        "units without a suggestion; accuracy counts those as wrong.",
        "",
        "## Per code",
        "",
        "| # | code | precision | recall | F1 | support | multi-label precision | multi-label recall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for position, (single, multi) in enumerate(
        zip(scores.per_code, scores.multilabel_per_code, strict=True), 1
    ):
        cells = [number(single.precision), number(single.recall), number(single.f1), str(single.support)]
        cells += [number(multi.precision), number(multi.recall)]
        lines.append(f"| {position} | {single.code} | {' | '.join(cells)} |")
    lines += [
        "",
        "## Calibration of the best suggestion's confidence",
        "",
        "| confidence | suggestions | mean confidence | share correct |",
        "|---|---|---|---|",
        *(
            f"| {item.lower:.1f}-{item.upper:.1f} | {item.count} | {number(item.mean_confidence)} | "
            f"{number(item.accuracy)} |"
            for item in scores.calibration.bins
            if item.count
        ),
        "",
        "![confusion matrix](confusion.png) ![F1 per code](per_code_f1.png) ![reliability](reliability.png)",
    ]
    return lines


def _open_coding_markdown(report: OpenCodingReport) -> list[str]:
    return [
        "## Published concepts recovered",
        "",
        "| metric | value | note |",
        "|---|---|---|",
        *(f"| {metric} | {value} | {note} |" for metric, value, note in headline(report)),
        "",
        "Labels are matched to concepts one to one (Hungarian assignment on embedding similarity); a pair",
        "counts when its similarity reaches the threshold.",
        "",
        "| label | concept | similarity |",
        "|---|---|---|",
        *(f"| {match.label} | {match.concept} | {match.similarity:.3f} |" for match in report.matches),
        "",
        f"Not recovered: {', '.join(report.unmatched_concepts) or 'none'}.",
        "",
        f"Proposed labels ({len(report.labels)}): {', '.join(report.labels)}.",
        "",
        "| threshold | recall | precision |",
        "|---|---|---|",
        *(
            f"| {item.threshold:.2f} | {number(item.recall)} | {number(item.precision)} |"
            for item in report.sweep
        ),
        "",
        "![recall and precision by threshold](threshold_sweep.png)",
    ]


def provenance_rows(provenance: Provenance) -> list[str]:
    """What produced the suggestions, as rows of a report's two-column Markdown table."""
    prompts = ", ".join(provenance.prompt_versions) or "none (the offline backend uses no prompt)"
    return [
        f"| backend | {provenance.backend} |",
        f"| model | {provenance.model or 'none'} |",
        f"| prompt versions | {prompts} |",
    ]


def write_files(report: BaseModel, markdown: str, folder: Path) -> list[Path]:
    """``report.md`` and ``report.json`` in ``folder`` (created if need be); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "report.md", folder / "report.json"]
    written[0].write_text(markdown, encoding="utf-8")
    written[1].write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return written


def write_report(report: Report, folder: Path) -> list[Path]:
    """``report.md``, ``report.json`` and the plots in ``folder``; returns the files written."""
    written = write_files(report, to_markdown(report), folder)
    if isinstance(report, AxialReport):
        scores = report.scores
        written += [
            plots.confusion_png(scores.confusion_labels, scores.confusion, folder / "confusion.png"),
            plots.per_code_f1_png(scores.per_code, folder / "per_code_f1.png"),
            plots.reliability_png(scores.calibration, folder / "reliability.png"),
        ]
    else:
        written.append(
            plots.threshold_sweep_png(report.sweep, report.coverage.threshold, folder / "threshold_sweep.png")
        )
    return written


def estimate_cells(estimate: Estimate) -> tuple[str, str]:
    """A value and its 95% interval, as two table cells."""
    interval = "n/a" if math.isnan(estimate.low) else f"{estimate.low:.3f} to {estimate.high:.3f}"
    return number(estimate.value), interval


def number(value: float) -> str:
    """Three decimals, or n/a for an undefined (nan) value."""
    return "n/a" if math.isnan(value) else f"{value:.3f}"
