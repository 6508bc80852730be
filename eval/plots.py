"""PNG plots of a report, drawn on plain matplotlib ``Figure``s (no pyplot, so no display and no global
state: ``savefig`` renders PNG with the Agg backend).

Matplotlib neither joins nor orders right-to-left letters, so Persian code names would come out as
disconnected, reversed glyphs: ticks show numbers for non-ASCII names, and the Markdown report lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from eval.metrics import Calibration, CodeScore, Coverage

if TYPE_CHECKING:  # eval.simulation draws with this module
    from eval.simulation import CurvePoint, StepScores


def tick_labels(names: Sequence[str]) -> list[str]:
    """The names themselves if all are ASCII, else their numbers (1-based, as in the Markdown report)."""
    if all(name.isascii() for name in names):
        return list(names)
    return [str(number) for number in range(1, len(names) + 1)]


def confusion_png(labels: Sequence[str], matrix: Sequence[Sequence[int]], path: Path) -> Path:
    size = max(5.0, 0.35 * len(labels) + 3)
    figure, axes = _figure(size, size)
    axes.imshow(np.asarray(matrix), cmap="Blues")
    ticks = tick_labels(labels)
    axes.set_xticks(range(len(labels)), ticks, rotation=90)
    axes.set_yticks(range(len(labels)), ticks)
    for row, counts in enumerate(matrix):
        for column, count in enumerate(counts):
            if count:
                axes.text(column, row, str(count), ha="center", va="center", fontsize=7)
    axes.set_xlabel("predicted (best suggestion)")
    axes.set_ylabel("gold")
    axes.set_title("Confusion matrix")
    return _save(figure, path)


def per_code_f1_png(scores: Sequence[CodeScore], path: Path) -> Path:
    figure, axes = _figure(8, max(3.0, 0.3 * len(scores) + 1.5))
    positions = np.arange(len(scores))
    axes.barh(positions, [score.f1 for score in scores], color="tab:blue")
    axes.set_yticks(positions, tick_labels([score.code for score in scores]))
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("F1")
    axes.set_title("F1 per code")
    return _save(figure, path)


def reliability_png(calibration: Calibration, path: Path) -> Path:
    figure, axes = _figure(5, 5)
    filled = [item for item in calibration.bins if item.count]
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    axes.bar(
        [(item.lower + item.upper) / 2 for item in filled],
        [item.accuracy for item in filled],
        width=[item.upper - item.lower for item in filled],
        edgecolor="black",
        alpha=0.7,
        label="share correct",
    )
    axes.plot(
        [item.mean_confidence for item in filled],
        [item.accuracy for item in filled],
        "o",
        color="tab:red",
        label="mean confidence of the bin",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence of the best suggestion")
    axes.set_ylabel("share correct")
    axes.set_title(f"Reliability (ECE {calibration.expected_calibration_error:.3f})")
    axes.legend(loc="upper left")
    return _save(figure, path)


def threshold_sweep_png(sweep: Sequence[Coverage], threshold: float, path: Path) -> Path:
    figure, axes = _figure(6, 4)
    thresholds = [item.threshold for item in sweep]
    axes.plot(thresholds, [item.recall for item in sweep], marker="o", label="recall")
    axes.plot(thresholds, [item.precision for item in sweep], marker="s", label="precision")
    axes.axvline(threshold, color="grey", linestyle="--", label=f"threshold used ({threshold:.3f})")
    axes.set_ylim(0, 1.05)
    axes.set_xlabel("similarity threshold")
    axes.set_title("Published concepts recovered")
    axes.legend()
    return _save(figure, path)


def learning_curve_png(curve: Sequence[CurvePoint], steps: Sequence[StepScores], path: Path) -> Path:
    """Left: the top suggestion's accuracy on the units not reviewed yet, after each step, with and without
    learning from the decisions. Right: each step's accept rate, likewise."""
    figure = Figure(figsize=(11, 4))
    left, right = figure.subplots(1, 2)
    total = curve[0].remaining
    reviewed = [point.reviewed / total for point in curve]
    left.plot(reviewed, [p.top_accuracy for p in curve], marker="o", label="after learning")
    left.plot(reviewed, [p.initial_top_accuracy for p in curve], marker="s", label="first suggestions")
    left.set_xlabel("share of units reviewed")
    left.set_ylabel("top-suggestion accuracy on the rest")
    left.set_title("Learning curve")
    numbers = [item.step for item in steps]
    right.plot(numbers, [item.learning.accept_rate for item in steps], marker="o", label="after learning")
    right.plot(numbers, [item.first.accept_rate for item in steps], marker="s", label="first suggestions")
    right.set_xlabel("review step")
    right.set_ylabel("share of units with a candidate accepted")
    right.set_title("Accept rate per step")
    for axes in (left, right):
        axes.set_ylim(0, 1.05)
        axes.legend()
    return _save(figure, path)


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return path
