"""The saturation plot as PNG bytes, drawn on a plain matplotlib ``Figure`` (no pyplot: no display and no
global state; ``savefig`` renders with the Agg backend). The x axis numbers the interviews (names may be
Persian, which matplotlib cannot shape); the CSV and the table name them."""

from __future__ import annotations

import io

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from services.analysis.cooccurrence import CooccurrenceReport
from services.analysis.saturation import Curve, SaturationReport

_STYLE = {"accepted": ("#1f77b4", "accepted codings"), "suggested": ("#ff7f0e", "suggestions")}


def saturation_png(report: SaturationReport) -> bytes:
    """Cumulative distinct codes (top) and new codes (bottom) per interview, both curves, with each
    curve's saturation point marked."""
    figure = Figure(figsize=(8.0, 6.0), layout="constrained")
    cumulative, new = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    curves = [report.accepted, report.suggested]
    width = 0.4
    for offset, found in zip((-width / 2, width / 2), curves, strict=True):
        color, label = _STYLE[found.basis]
        numbers = [point.interview for point in found.points]
        cumulative.plot(
            numbers,
            [p.cumulative for p in found.points],
            marker="o",
            color=color,
            label=_legend(label, found),
        )
        new.bar([n + offset for n in numbers], [p.new for p in found.points], width, color=color, label=label)
        if found.saturation is not None:
            for axes in (cumulative, new):
                axes.axvline(found.saturation, color=color, linestyle="--", linewidth=1)
    count = max((len(found.points) for found in curves), default=0)
    new.set_xticks(range(1, count + 1))
    new.set_xlabel(f"interview (ordered by {report.order})")
    cumulative.set_ylabel("distinct codes so far")
    new.set_ylabel("new codes")
    cumulative.legend(loc="lower right")
    cumulative.set_title(f"Saturation: {report.project}")
    cumulative.set_ylim(bottom=0)
    for axes in (cumulative, new):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    selection = report.selection
    note = (
        f"Dashed: saturation point, {report.rule_text}.\nSuggestions: the best {selection.top} per segment "
        f"({selection.mode}) with confidence >= {selection.min_confidence}."
    )
    figure.text(0.5, -0.02, note, ha="center", va="top", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def _legend(label: str, found: Curve) -> str:
    point = "not yet saturated" if found.saturation is None else f"saturated at interview {found.saturation}"
    return f"{label} ({point})"


def cooccurrence_png(report: CooccurrenceReport) -> bytes:
    """The co-occurrence table as a heat map: rows and columns are codes, each cell the segments coded with
    the row's code that have the column's code near them (the diagonal: segments coded with the code)."""
    size = max(4.0, 0.32 * len(report.codes) + 2.5)
    figure = Figure(figsize=(size + 1.5, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(report.together or [[0]], cmap="Blues")
    axes.set_xticks(range(len(report.codes)), report.codes, rotation=90, fontsize=8)
    axes.set_yticks(range(len(report.codes)), report.codes, fontsize=8)
    for row, counts in enumerate(report.together):
        for column, count in enumerate(counts):
            if count:
                axes.text(column, row, str(count), ha="center", va="center", fontsize=7)
    where = "on the same segment" if report.window == 0 else f"within {report.window} segment(s)"
    axes.set_title(f"Code co-occurrence: segments coded with the row's code and the column's, {where}")
    figure.colorbar(image, ax=axes, shrink=0.6, label="segments")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
