"""``groundcode saturation``, ``groundcode export …`` and ``groundcode axial benchmark``.

The command line has no logged-in user: it acts as the local operator, an owner who sees every coder's
decisions. The analysis modules are imported inside the commands: scikit-learn, scipy, matplotlib and
openpyxl take seconds to load, and every other groundcode command would pay for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from groundcode.domain import Access
from groundcode.errors import NoDatabaseError, NotFoundError
from groundcode.settings import Settings
from services.analysis.saturation import ModeChoice, Order

if TYPE_CHECKING:
    from services.analysis.saturation import Curve
    from services.analysis.service import Analysis

app = typer.Typer()
export_app = typer.Typer(
    help="Export a project's codings, codebook or code-by-source matrix. Acts as the local operator: no "
    "login, every coder's codings (blind coding does not apply).",
    no_args_is_help=True,
)
axial_app = typer.Typer(help="Axial coding support.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(axial_app, name="axial")
console = Console()

ProjectOption = Annotated[
    str, typer.Option("--project", "-p", envvar="GROUNDCODE_PROJECT", help="Project (study) name.")
]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    MD = "md"


@contextmanager
def _analysis(project: str) -> Iterator[tuple[Analysis, Access]]:
    """The analysis service, and the local operator's access to the project."""
    from groundcode.app import open_groundcode
    from services.analysis.service import analysis_of, local_operator

    try:
        opened = open_groundcode(Settings(), create=False)
    except NoDatabaseError as error:
        raise typer.BadParameter(str(error), param_hint="--project") from error
    with closing(opened) as groundcode:
        try:
            found = groundcode.repository.get_project(project)
        except NotFoundError as error:
            raise typer.BadParameter(error.for_operator(), param_hint="--project") from error
        yield analysis_of(groundcode), local_operator(found)


@app.command()
def saturation(
    project: ProjectOption = "default",
    order: Annotated[
        Order, typer.Option(help="Interview order: by name (numbers as numbers) or by import time.")
    ] = "name",
    out: Annotated[Path, typer.Option(help="Folder for PROJECT-saturation.png and .csv.")] = Path("."),
    window: Annotated[int, typer.Option(min=1, help="k: consecutive coded interviews that confirm.")] = 3,
    max_new: Annotated[int, typer.Option(min=0, help="m: new codes those k may add together.")] = 0,
    top: Annotated[int, typer.Option(min=1, help="Suggestions per segment and mode that count.")] = 1,
    min_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Suggestions below this confidence do not count.")
    ] = 0.5,
    mode: Annotated[ModeChoice, typer.Option(help="Which suggestions count.")] = "deductive",
) -> None:
    """Saturation curves of the accepted codings and of the suggestions, as a table, PNG and CSV.

    New and cumulative distinct codes per interview, from every coder's accepted codings (the local
    operator sees them all) and from the best suggestions, and where each curve flattens: the first
    interview after which WINDOW consecutive coded interviews add at most MAX_NEW new codes together."""
    from services.analysis.exports import csv_text, saturation_table
    from services.analysis.plots import saturation_png
    from services.analysis.saturation import SaturationRule, SuggestionSelection

    with _analysis(project) as (analysis, operator):
        report = analysis.saturation(
            operator,
            order,
            SaturationRule(window=window, max_new=max_new),
            SuggestionSelection(top=top, min_confidence=min_confidence, mode=mode),
        )
    table = Table(title=f"Saturation of {project} (interviews by {order})")
    for column in ("#", "source", "accepted new", "accepted total", "suggested new", "suggested total"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for accepted, suggested in zip(report.accepted.points, report.suggested.points, strict=True):
        table.add_row(
            str(accepted.interview),
            accepted.source if accepted.coded else f"{accepted.source} (no codings)",
            str(accepted.new),
            str(accepted.cumulative),
            str(suggested.new),
            str(suggested.cumulative),
        )
    console.print(table)
    console.print(f"Rule: saturation is {report.rule_text}.")
    selection = report.selection
    console.print(
        f"Suggestions counted: the best {selection.top} per segment ({selection.mode}) with confidence >= "
        f"{selection.min_confidence}."
    )
    for curve in (report.accepted, report.suggested):
        console.print(_verdict(curve, window))
    out.mkdir(parents=True, exist_ok=True)
    png, csv = out / f"{project}-saturation.png", out / f"{project}-saturation.csv"
    png.write_bytes(saturation_png(report))
    csv.write_text(csv_text(saturation_table(report)), encoding="utf-8")
    console.print(f"Wrote {png} and {csv}")


def _verdict(curve: Curve, window: int) -> str:
    label = "accepted codings" if curve.basis == "accepted" else "suggestions"
    if curve.saturation is None:
        return f"{label}: not saturated (no interview is followed by {window} that confirm it)"
    text = (
        f"{label}: saturated at interview {curve.saturation} ({curve.saturation_source}), "
        f"{curve.confirmed_by} coded interviews after it"
    )
    if curve.added_after:
        text += f"; but {curve.added_after} new codes came later (an early plateau?)"
    return text


class Export(StrEnum):
    CODINGS = "codings"
    CODEBOOK = "codebook"
    MATRIX = "matrix"


FORMATS = {
    Export.CODINGS: (ExportFormat.CSV, ExportFormat.XLSX),
    Export.CODEBOOK: (ExportFormat.MD,),
    Export.MATRIX: (ExportFormat.CSV, ExportFormat.XLSX),
}
EXPORT_HELP = {
    Export.CODINGS: "Every coding: source, speaker, offsets, text, code, coder, time (UTC), suggestion "
    "provenance. CSV (UTF-8 with BOM) or XLSX.",
    Export.CODEBOOK: "The codebook with definitions, accepted codings and suggestions per code, in hierarchy "
    "order, as Markdown.",
    Export.MATRIX: "Codes by sources: the distinct coded spans of each code in each source. CSV or XLSX.",
}


def _export_command(what: Export) -> None:
    def command(
        out: Annotated[Path, typer.Option(help="File to write.")],
        project: ProjectOption = "default",
        output_format: Annotated[
            ExportFormat | None,
            typer.Option("--format", help="csv, xlsx or md (default: from --out's suffix)."),
        ] = None,
        code: Annotated[
            str | None, typer.Option(help="Only the codings of this code (name or id) and its sub-codes.")
        ] = None,
        coder: Annotated[str | None, typer.Option(help="Only this coder's codings (username).")] = None,
        source: Annotated[str | None, typer.Option(help="Only this source's codings (name or id).")] = None,
        since: Annotated[
            datetime | None,
            typer.Option(formats=["%Y-%m-%d"], help="Only codings made on or after this day."),
        ] = None,
        until: Annotated[
            datetime | None,
            typer.Option(formats=["%Y-%m-%d"], help="Only codings made on or before this day."),
        ] = None,
    ) -> None:
        from pydantic import ValidationError

        from services.adjudication.models import CodingFilter

        chosen = output_format or _format_of(out)
        if chosen not in FORMATS[what]:
            allowed = ", ".join(f.value for f in FORMATS[what])
            raise typer.BadParameter(f"{what.value} exports as {allowed}", param_hint="--format")
        try:
            where = CodingFilter(
                code=code,
                coder=coder,
                source=source,
                since=since.date() if since else None,
                until=until.date() if until else None,
            )
        except ValidationError as error:
            raise typer.BadParameter(error.errors()[0]["msg"], param_hint="--until") from error
        if what == Export.CODEBOOK and where != CodingFilter():
            raise typer.BadParameter("the codebook export takes no filter", param_hint="--code")
        from services.adjudication.service import AdjudicationError
        from services.analysis.exports import csv_text, xlsx_bytes

        with _analysis(project) as (analysis, operator):
            if what == Export.CODEBOOK:
                data = analysis.codebook_markdown(operator).encode("utf-8")
            else:
                try:
                    table = (analysis.codings_table if what == Export.CODINGS else analysis.matrix_table)(
                        operator, where
                    )
                except AdjudicationError as error:  # a code, coder or source the filter names is unknown
                    raise typer.BadParameter(str(error)) from error
                data = xlsx_bytes(table) if chosen == ExportFormat.XLSX else csv_text(table).encode("utf-8")
        out.write_bytes(data)
        console.print(f"Wrote {out} (every coder's codings, as the local operator)")

    command.__doc__ = EXPORT_HELP[what] + " Acts as the local operator: every coder's codings."
    export_app.command(what.value)(command)


def _format_of(out: Path) -> ExportFormat:
    try:
        return ExportFormat(out.suffix.lstrip(".").lower())
    except ValueError as error:
        raise typer.BadParameter("give --format csv, xlsx or md", param_hint="--format") from error


for _what in Export:
    _export_command(_what)


@app.command()
def cooccurrence(
    out: Annotated[Path, typer.Option(help="The table to write: .csv or .xlsx.")],
    project: ProjectOption = "default",
    window: Annotated[
        int, typer.Option(min=0, max=50, help="0: codes on the same segment; n: within n segments.")
    ] = 0,
    heat_map: Annotated[Path | None, typer.Option(help="Also write the table as a heat map (PNG).")] = None,
) -> None:
    """Which codes are applied together: for each pair, the segments coded with the first that have the
    second on the same segment (or within --window segments in the same source); counts segments, as the
    code-by-source matrix does. Acts as the local operator: every coder's codings."""
    from services.analysis.exports import cooccurrence_table, csv_text, xlsx_bytes
    from services.analysis.plots import cooccurrence_png

    chosen = _format_of(out)
    if chosen not in (ExportFormat.CSV, ExportFormat.XLSX):
        raise typer.BadParameter("the table is written as .csv or .xlsx", param_hint="--out")
    with _analysis(project) as (analysis, operator):
        report = analysis.cooccurrence(operator, window)
    table = cooccurrence_table(report)
    out.write_bytes(xlsx_bytes(table) if chosen == ExportFormat.XLSX else csv_text(table).encode("utf-8"))
    if heat_map is not None:
        heat_map.write_bytes(cooccurrence_png(report))
    console.print(f"Wrote {out}" + (f" and {heat_map}" if heat_map else "") + f": {len(report.codes)} codes")


@axial_app.command()
def benchmark(
    seed: Annotated[int, typer.Option(help="Seeds the shuffles that give the chance level.")] = 0,
) -> None:
    """Group seed 002's sub-themes (123 distinct texts; the 5 listed twice count under their first theme)
    with the project embedder and compare with the published 23 main themes: adjusted Rand index and
    normalised mutual information, beside chance (same group sizes, codes shuffled). Meaning only: the
    paper has no transcripts, so no co-occurrence."""
    from eval import seeds
    from groundcode.domain import Code
    from services.analysis.axial import AxialOptions
    from services.analysis.benchmark import first_themes, run
    from services.retrieval.embeddings import embedder_from_settings
    from services.retrieval.indexing import code_text

    reference = first_themes(seeds.themes(seeds.load(seeds.THEMES_FILE)))
    embedder = embedder_from_settings(Settings())
    vectors = embedder.embed_queries([code_text(Code(name=text)) for text in reference])
    published = len(set(reference.values()))
    settings = [
        AxialOptions(),
        AxialOptions(groups=published),
        AxialOptions(groups=published, linkage="average"),
        AxialOptions(groups=published, linkage="complete"),
    ]
    table = Table(title=f"Axial grouping of seed 002 ({len(reference)} sub-themes, {published} themes)")
    for column in ("grouping", "groups", "ARI", "NMI", "chance ARI", "chance NMI"):
        table.add_column(column)
    for row in run(reference, vectors, settings, seed):
        options = row.options
        grouping = f"{options.linkage}, " + (f"{options.groups} groups" if options.groups else "default size")
        result = row.result
        table.add_row(
            grouping,
            str(result.predicted_groups),
            f"{result.adjusted_rand_index:.3f}",
            f"{result.normalized_mutual_information:.3f}",
            f"{row.chance_ari:.3f}",
            f"{row.chance_nmi:.3f}",
        )
    console.print(table)
    console.print(f"embedder {embedder.model_id}, dataset {seeds.THEMES_FILE}")
