"""``groundcode codebook``: a project's codebook out as REFI-QDA (.qdc) or YAML; ``groundcode project``: whole
projects in and out as REFI-QDA (.qdpx, .qde).

Codebooks go in through ``groundcode import --codebook FILE`` (YAML, JSON, CSV or .qdc).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AbstractContextManager, closing
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from groundcode.bounded import BoundExceededError
from groundcode.domain import Code, Codebook, SegmentUnit, Stage
from groundcode.errors import NoDatabaseError, NotFoundError
from groundcode.interchange.errors import InterchangeError
from groundcode.settings import Settings

# The REFI-QDA reader and writer (lxml), the services and the database are imported by the commands that use
# them: `groundcode --help` and every other command must not pay for them.
if TYPE_CHECKING:
    from groundcode.app import Groundcode
    from groundcode.interchange.projects import ImportSummary

codebook_app = typer.Typer(help="Codebooks in and out of a project.", no_args_is_help=True)
project_app = typer.Typer(
    help="Whole projects in and out as REFI-QDA (.qdpx, .qde): ATLAS.ti, MAXQDA, NVivo, QualCoder.",
    no_args_is_help=True,
)
console = Console()
errors = Console(stderr=True)

ProjectOption = Annotated[
    str, typer.Option("--project", "-p", envvar="GROUNDCODE_PROJECT", help="Project (study) name.")
]


class CodebookFormat(StrEnum):
    QDC = "qdc"
    YAML = "yaml"


def _opened(*, create: bool = False) -> AbstractContextManager[Groundcode]:
    """The composition root on the environment's settings, closed after the command; only an import
    (``create``) makes a new database."""
    from groundcode.app import open_groundcode

    try:
        return closing(open_groundcode(Settings(), create=create))
    except NoDatabaseError as error:
        raise _fail(str(error)) from error


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
    with _opened() as groundcode:
        try:
            target = groundcode.repository.get_project(project)
        except NotFoundError as error:
            raise typer.BadParameter(error.for_operator(), param_hint="PROJECT") from error
        stored = groundcode.repository.latest_codebook(target.id, codebook)
    if stored is None:
        named = f" named {codebook!r}" if codebook else ""
        raise typer.BadParameter(f"project {project!r} has no codebook{named}", param_hint="--codebook")
    data, losses = _render(stored, target.id, output_format)
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


@codebook_app.command("approve")
def approve(
    code: Annotated[str, typer.Argument(help="The code's name or id.")], project: ProjectOption = "default"
) -> None:
    """Approve a coder's new code, as an owner: while coding is blind, the other coders see it from now on,
    and it is suggested."""
    from services.analysis.service import local_operator

    with _opened() as groundcode:
        try:
            who = local_operator(groundcode.repository.get_project(project))
        except NotFoundError as error:
            raise _fail(error.for_operator()) from error
        codes = groundcode.adjudication.visible_codes(who)
        found = _code_named(codes, code, project)
        changed = groundcode.adjudication.approve_code(who, found.id)
        if changed is not None:
            _follow(groundcode, [(Stage.INDEX_CODEBOOK, [changed.id])])
        console.print(f"Code [bold]{escape(found.name)}[/bold] approved.")


@codebook_app.command("edit")
def edit(
    code: Annotated[str, typer.Argument(help="The code's name or id.")],
    project: ProjectOption = "default",
    name: Annotated[str | None, typer.Option(help="Rename it.")] = None,
    definition: Annotated[str | None, typer.Option(help="Re-define it.")] = None,
    color: Annotated[str | None, typer.Option(help='Recolour it: "#RRGGBB" ("" for none).')] = None,
    parent: Annotated[str | None, typer.Option(help="Move it under this code (name or id).")] = None,
    top: Annotated[bool, typer.Option("--top", help="Move it to the top level.")] = False,
    retire: Annotated[
        bool,
        typer.Option("--retire", help="Take it out of the codebook (no longer suggested; codings stay)."),
    ] = False,
) -> None:
    """Edit one code of the project's codebook, as an owner: a new codebook version, indexed again."""
    from services.analysis.codebook_edit import TOP_LEVEL, CodebookEditError, CodeEdit
    from services.analysis.service import analysis_of, local_operator

    if top and parent is not None:
        raise typer.BadParameter("give --parent or --top, not both", param_hint="--top")
    with _opened() as groundcode:
        try:
            who = local_operator(groundcode.repository.get_project(project))
        except NotFoundError as error:
            raise _fail(error.for_operator()) from error
        stored = groundcode.repository.latest_codebook(who.project.id)
        if stored is None:
            raise _fail(f"project {project!r} has no codebook yet")
        edited = _code_named(stored.codes, code, project)
        new_parent = _code_named(stored.codes, parent, project).id if parent is not None else None
        change = CodeEdit(
            codebook_version=stored.version,
            code_id=edited.id,
            name=name,
            definition=definition,
            color=color,
            parent_id=TOP_LEVEL if top else new_parent,
            retire=retire,
        )
        try:
            saved, changed = analysis_of(groundcode).edit_code(who, change)
        except CodebookEditError as error:
            raise _fail(str(error)) from error
        if changed:
            _follow(groundcode, [(Stage.INDEX_CODEBOOK, [saved.id])])
    console.print(f"Codebook {saved.name!r} version {saved.version}: {len(saved.codes)} codes.")


def _code_named(codes: Sequence[Code], wanted: str, project: str) -> Code:
    """The code whose id or name is ``wanted``; exits with an error naming it if there is none."""
    found = next((code for code in codes if wanted in (code.id, code.name)), None)
    if found is None:
        raise _fail(f"project {project!r} has no code {wanted!r}")
    return found


def _render(codebook: Codebook, project_id: str, output_format: CodebookFormat) -> tuple[bytes, list[str]]:
    """The file's bytes and what the format could not carry."""
    from groundcode.codebook_io import format_codebook_yaml
    from groundcode.interchange.codebook import qdc_from_codes, qdc_losses
    from groundcode.interchange.refiqda import write_codebook

    if output_format is CodebookFormat.QDC:
        qdc = qdc_from_codes(codebook.codes, "groundcode", project_id)
        return write_codebook(qdc), qdc_losses(codebook.codes)
    return format_codebook_yaml(codebook.name, codebook.codes).encode("utf-8"), []


@project_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A REFI-QDA project: .qdpx (with its texts) or .qde.")],
    project: ProjectOption = "default",
    unit: Annotated[
        SegmentUnit, typer.Option(help="Unit of analysis of new sources.")
    ] = SegmentUnit.SENTENCE,
    language: Annotated[str | None, typer.Option(help="ISO 639-1 code; detected when omitted.")] = None,
    map_user: Annotated[
        list[str] | None,
        typer.Option(
            help="GUID=username: the file's user GUID codes as this existing account (repeatable). "
            "Unmapped users become new accounts without a password."
        ),
    ] = None,
    create: Annotated[
        bool, typer.Option("--create", help="Start the project if it is new (a first import always does).")
    ] = False,
) -> None:
    """Import a REFI-QDA project: its texts, codebook, users and their codings, all or nothing; then index
    and suggest as after 'groundcode import'."""
    from groundcode.bounded import run_bounded
    from groundcode.interchange.mapping import parse_user_map
    from groundcode.interchange.projects import import_project
    from groundcode.interchange.refiqda import read_project
    from services.chunking.segmenter import ChunkOptions

    try:
        user_map = parse_user_map(map_user or [])
    except ValueError as error:
        raise _fail(f"--map-user {error}") from error
    with _opened(create=True) as groundcode:
        try:
            groundcode.repository.check_import_target(project, create=create)
        except NotFoundError as error:
            raise _fail(error.for_operator()) from error
        try:
            qda = run_bounded(groundcode.settings.parse_bounds(), str(file), read_project, file)
            options = ChunkOptions(unit=unit, language=language)
            outcome = import_project(groundcode, project, qda, options, where=str(file), user_map=user_map)
        except (InterchangeError, BoundExceededError) as error:
            raise _fail(f"nothing imported: {error}") from error
        _print_import(outcome.summary)
        _follow(groundcode, outcome.work)


@project_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The .qdpx file to write.")],
    project: ProjectOption = "default",
) -> None:
    """Write a project as REFI-QDA: its texts, latest codebook, every coder's codings in force (with the
    provenance of accepted suggestions as notes) and every memo."""
    from groundcode.interchange.projects import export_project
    from groundcode.interchange.refiqda import walk_codes

    with _opened() as groundcode:
        try:
            target = groundcode.repository.get_project(project)
        except NotFoundError as error:
            raise _fail(error.for_operator()) from error
        try:
            data, exported = export_project(
                groundcode,
                target,
                groundcode.decisions.list(target.id),
                memos=groundcode.memos.current(target.id),
            )
        except InterchangeError as error:
            raise _fail(str(error)) from error
    try:
        out.write_bytes(data)
    except OSError as error:
        raise _fail(f"{out}: cannot write the file ({error.strerror})") from error
    qda = exported.project
    codings = sum(len(s.codings) for source in qda.sources for s in source.selections)
    codes = len(list(walk_codes(qda.codes)))
    console.print(
        f"Project [bold]{escape(qda.name)}[/bold]: {len(qda.sources)} sources, {codes} codes, "
        f"{codings} codings by {len(qda.users)} users written to {out}"
    )
    for loss in exported.losses:
        errors.print(f"[yellow]not exported:[/yellow] {escape(loss)}")


def _print_import(summary: ImportSummary) -> None:
    console.print(f"Project [bold]{escape(summary.project)}[/bold]:")
    console.print(
        f"  sources: {len(summary.sources_added)} imported, {len(summary.sources_known)} already there"
    )
    if summary.codebook is not None:
        name = escape(repr(summary.codebook))
        console.print(f"  codebook {name} version {summary.codebook_version}: {summary.codes} codes")
    added = f" (new accounts: {escape(', '.join(summary.accounts_added))})" if summary.accounts_added else ""
    console.print(f"  users: {escape(', '.join(summary.users)) or 'none'}{added}")
    console.print(f"  codings: {summary.codings_added} imported, {summary.codings_known} already there")
    if summary.memos_added:
        console.print(f"  memos: {summary.memos_added} imported (project, journal, source, code, coding)")
    for line in summary.left_out:
        errors.print(f"[yellow]not imported:[/yellow] {escape(line)}")


def _follow(groundcode: Groundcode, work: list[tuple[Stage, list[str]]]) -> None:
    """Index, suggest and learn, waiting as 'groundcode import' does."""
    from groundcode.cli import _process  # imported here: groundcode.cli imports this module

    for stage, subject_ids in work:
        asyncio.run(_process(groundcode, stage, subject_ids, wait=True))


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=1)
