"""``groundcode codebook``: a project's codebook out as REFI-QDA (.qdc) or YAML.

Importing goes the other way through ``groundcode import --codebook FILE`` (YAML, JSON, CSV or .qdc).
"""

from __future__ import annotations

from contextlib import closing
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from groundcode.app import open_groundcode
from groundcode.codebook_io import format_codebook_yaml
from groundcode.domain import Codebook
from groundcode.interchange.codebook import qdc_from_codes, qdc_losses
from groundcode.interchange.refiqda import write_codebook
from groundcode.settings import Settings
from groundcode.storage.repository import NotFoundError

codebook_app = typer.Typer(help="Codebooks in and out of a project.", no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


class CodebookFormat(StrEnum):
    QDC = "qdc"
    YAML = "yaml"


@codebook_app.command("export")
def export(
    project: Annotated[str, typer.Argument(help="Project (study) name.")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    output_format: Annotated[
        CodebookFormat,
        typer.Option(
            "--format", help="qdc: REFI-QDA, for ATLAS.ti, MAXQDA, NVivo, QualCoder; yaml: groundcode's."
        ),
    ] = CodebookFormat.QDC,
    codebook: Annotated[
        str | None, typer.Option(help="Which codebook, by name; the most recently saved one if omitted.")
    ] = None,
) -> None:
    """Write the newest version of a project's codebook to a file."""
    with closing(open_groundcode(Settings())) as groundcode:
        try:
            target = groundcode.repository.get_project(project)
        except NotFoundError as error:
            raise typer.BadParameter(str(error), param_hint="PROJECT") from error
        stored = groundcode.repository.latest_codebook(target.id, codebook)
    if stored is None:
        named = f" named {codebook!r}" if codebook else ""
        raise typer.BadParameter(f"project {project!r} has no codebook{named}", param_hint="--codebook")
    data, losses = _render(stored, output_format)
    try:
        out.write_bytes(data)
    except OSError as error:
        raise typer.BadParameter(
            f"{out}: cannot write the file ({error.strerror})", param_hint="--out"
        ) from error
    console.print(
        f"Codebook [bold]{stored.name}[/bold] version {stored.version}: "
        f"{len(stored.codes)} codes written to {out} ({output_format.value})"
    )
    for loss in losses:
        errors.print(f"[yellow]not exported:[/yellow] {loss}")


def _render(codebook: Codebook, output_format: CodebookFormat) -> tuple[bytes, list[str]]:
    """The file's bytes and what the format could not carry."""
    if output_format is CodebookFormat.QDC:
        return write_codebook(qdc_from_codes(codebook.codes, origin="groundcode")), qdc_losses(codebook.codes)
    return format_codebook_yaml(codebook.name, codebook.codes).encode("utf-8"), []
