"""The ``groundcode`` command line: thin commands over the composition root and the service functions."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, assert_never

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from eval.cli import app as eval_app
from eval.cli import codings_app
from groundcode.coding_scope import CodingScope, ScopeRule
from groundcode.deploy import deploy_app
from groundcode.domain import Project, Role, SegmentUnit, Stage
from groundcode.errors import AccountError, NoDatabaseError, NotFoundError
from groundcode.interchange.cli import codebook_app, project_app
from groundcode.settings import TOKEN_LIFETIME, Settings
from services.analysis.cli import app as analysis_app
from services.analysis.memo_cli import memo_app
from services.suggestion.local_server import llm_app

# Each command imports what it needs where it runs: `groundcode --help` and the commands that only read the
# database must not pay seconds for chromadb, scikit-learn, FastAPI or taskiq (bench/bench_cli_startup.py).
if TYPE_CHECKING:
    from fastapi import FastAPI

    from groundcode.app import Groundcode
    from groundcode.domain import Codebook, Segment, WorkItem
    from services.chunking.ingest import ImportResult
    from services.chunking.segmenter import ChunkOptions

app = typer.Typer(
    help="groundcode: first-pass qualitative coding with the researcher in charge.", no_args_is_help=True
)
console = Console()
errors = Console(stderr=True)
app.add_typer(codebook_app, name="codebook")
app.add_typer(project_app, name="project")
app.add_typer(eval_app, name="eval")
app.add_typer(codings_app, name="codings")
app.add_typer(analysis_app)  # saturation, export …, axial …
app.add_typer(memo_app, name="memo")
app.add_typer(deploy_app, name="deploy")
app.add_typer(llm_app, name="llm")  # llm serve: a local model on loopback (the local-llm extra)


user_app = typer.Typer(help="Researchers' accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored only as a hash).", no_args_is_help=True)
member_app = typer.Typer(help="Who is in a project, with which role.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(member_app, name="member")


class ServiceName(StrEnum):
    CHUNKING = "chunking"
    RETRIEVAL = "retrieval"
    SUGGESTION = "suggestion"
    ADJUDICATION = "adjudication"


def _service_app(name: ServiceName, settings: Settings, *, run_workers: bool) -> FastAPI:
    """The HTTP app of one service, run on its own."""
    match name:
        case ServiceName.CHUNKING:
            from services.chunking.api import create_app as create_chunking_app

            return create_chunking_app(settings, run_workers=run_workers)
        case ServiceName.RETRIEVAL:
            from services.retrieval.api import create_app as create_retrieval_app

            return create_retrieval_app(settings, run_workers=run_workers)
        case ServiceName.SUGGESTION:
            from services.suggestion.api import create_app as create_suggestion_app

            return create_suggestion_app(settings, run_workers=run_workers)
        case ServiceName.ADJUDICATION:
            from services.adjudication.api import create_app as create_adjudication_app

            return create_adjudication_app(settings, run_workers=run_workers)
        case _:
            assert_never(name)


ProjectOption = Annotated[
    str, typer.Option("--project", "-p", envvar="GROUNDCODE_PROJECT", help="Project (study) name.")
]


@contextmanager
def _groundcode(
    overrides: Mapping[str, object] | None = None, *, create: bool = False
) -> Iterator[Groundcode]:
    """The composition root on the environment's settings, with ``overrides`` for this run only. Only the
    commands that put something in (``create``) make a new database; the others report there is none."""
    from groundcode.app import open_groundcode

    try:
        groundcode = open_groundcode(Settings().model_copy(update=overrides or {}), create=create)
    except NoDatabaseError as error:
        raise _fail(str(error)) from error
    try:
        yield groundcode
    finally:
        groundcode.close()


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


@app.command()
def init(
    project: ProjectOption = "default",
    owner: Annotated[str | None, typer.Option(help="Make this user the project's owner.")] = None,
) -> None:
    """Create the data directory and database (or migrate it to the newest schema) and the project."""
    with _groundcode(create=True) as groundcode:
        created = groundcode.repository.ensure_project(project)
        console.print(f"Database ready at {groundcode.settings.resolved_database_url()}")
        console.print(f"Project [bold]{created.name}[/bold] ({created.id})")
        if owner is not None:
            _set_member(groundcode, created, owner, Role.OWNER)


@user_app.command("add")
def user_add(
    username: str,
    password: Annotated[
        str | None,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="GROUNDCODE_NEW_PASSWORD",
            help="For the review page's login (at least 8 characters); asked for if not given.",
        ),
    ] = None,
    display_name: Annotated[str, typer.Option(help="Name shown to other coders.")] = "",
    admin: Annotated[bool, typer.Option(help="An instance administrator (the operations routes).")] = False,
) -> None:
    """Add a researcher's account."""
    with _groundcode(create=True) as groundcode:
        try:
            user = groundcode.accounts.add_user(
                username, password=password, display_name=display_name, admin=admin
            )
        except (AccountError, ValueError) as error:
            raise _fail(str(error)) from error
        console.print(
            f"User [bold]{user.username}[/bold] added; 'groundcode member add' puts them in a project."
        )


@user_app.command("password")
def user_password(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a user's password; their login sessions and API tokens are revoked."""
    with _groundcode() as groundcode:
        try:
            revoked = groundcode.accounts.set_password(username, password)
        except (AccountError, NotFoundError) as error:
            raise _fail(str(error)) from error
        console.print(f"Password of {username} changed; {revoked} sessions and tokens revoked.")


@user_app.command("admin")
def user_admin(
    username: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="No longer an administrator.")] = False,
) -> None:
    """Make a user an instance administrator: they may call the operations routes (/work-items, /metrics)."""
    with _groundcode() as groundcode:
        try:
            groundcode.accounts.set_admin(username, not revoke)
        except NotFoundError as error:
            raise _fail(str(error)) from error
        console.print(f"{username} is {'no longer' if revoke else 'now'} an administrator.")


@user_app.command("list")
def user_list() -> None:
    """Every account, with its projects and roles."""
    with _groundcode() as groundcode:
        table = Table("user", "name", "projects")
        for user in groundcode.accounts.list_users():
            roles = groundcode.accounts.projects_of(user.id)
            table.add_row(
                user.username, user.display_name, ", ".join(f"{p.name} ({r.value})" for p, r in roles)
            )
        console.print(table)


@token_app.command("create")
def token_create(
    username: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    expires_days: Annotated[
        int, typer.Option(min=1, max=3650, help="Days until it expires.")
    ] = TOKEN_LIFETIME.days,
) -> None:
    """Issue an API token for a user; it is printed once and only its hash is kept."""
    with _groundcode() as groundcode:
        try:
            user = groundcode.accounts.get_user(username)
        except NotFoundError as error:
            raise _fail(str(error)) from error
        print(groundcode.accounts.issue_token(user.id, label=label, lifetime=timedelta(days=expires_days)))


@token_app.command("list")
def token_list(username: Annotated[str | None, typer.Argument(help="Only this user's.")] = None) -> None:
    """Login sessions and API tokens (never the tokens themselves), with their ids for 'token revoke'."""
    with _groundcode() as groundcode:
        table = Table("id", "user", "kind", "label", "created", "expires")
        for token in groundcode.accounts.list_tokens(username):
            expires = token.expires_at.strftime("%Y-%m-%d %H:%M") if token.expires_at else "never"
            created = token.created_at.strftime("%Y-%m-%d %H:%M")
            table.add_row(token.id, token.username, token.kind, token.label, created, expires)
        console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_ids: Annotated[list[str] | None, typer.Argument(help="Ids from 'token list'.")] = None,
    user: Annotated[str | None, typer.Option(help="Every session and token of this user.")] = None,
) -> None:
    """Revoke tokens or login sessions: those named, or all of a user's."""
    with _groundcode() as groundcode:
        chosen = list(token_ids or [])
        if user is not None:
            chosen += [token.id for token in groundcode.accounts.list_tokens(user)]
        if not chosen:
            raise _fail("name token ids (groundcode token list) or a --user")
        console.print(f"{groundcode.accounts.revoke_token_ids(chosen)} revoked.")


@member_app.command("add")
def member_add(
    username: str,
    project: ProjectOption = "default",
    role: Annotated[Role, typer.Option(help="owner, coder or viewer.")] = Role.CODER,
) -> None:
    """Give a user a role in a project (or change it)."""
    with _groundcode() as groundcode:
        _set_member(groundcode, _project(groundcode, project), username, role)


@member_app.command("list")
def member_list(project: ProjectOption = "default") -> None:
    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        table = Table("user", "role")
        for member in groundcode.accounts.members(target.id):
            table.add_row(member.user.username, member.role.value)
        console.print(table)


@project_app.command("set")
def project_set(
    project: ProjectOption = "default",
    code_speakers: Annotated[
        str | None, typer.Option(help="Code only these speakers' turns, comma-separated: P1,P3.")
    ] = None,
    code_speakers_pattern: Annotated[
        str | None, typer.Option(help="Code the speakers whose label matches this regex (whole, any case).")
    ] = None,
    code_all_speakers: Annotated[bool, typer.Option(help="Code every speaker, interviewers too.")] = False,
    code_default_speakers: Annotated[
        bool, typer.Option(help="Back to the default: every speaker except interviewers.")
    ] = False,
) -> None:
    """Set which speakers' turns get suggestions (front matter never does), then suggest again."""
    rules: dict[ScopeRule, bool] = {
        "speakers": code_speakers is not None,
        "pattern": code_speakers_pattern is not None,
        "all": code_all_speakers,
        "default": code_default_speakers,
    }
    chosen = [rule for rule, given in rules.items() if given]
    if len(chosen) != 1:
        raise _fail(
            "give exactly one of --code-speakers, --code-speakers-pattern, --code-all-speakers, "
            "--code-default-speakers"
        )
    speakers = [name.strip() for name in (code_speakers or "").split(",") if name.strip()]
    try:
        scope = CodingScope(rule=chosen[0], speakers=speakers, pattern=code_speakers_pattern or "")
    except ValidationError as error:
        raise _fail(error.errors()[0]["msg"]) from error
    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        source_ids = groundcode.set_coding_scope(target.id, scope)
        console.print(f"Project {target.name} codes {scope.describe()}.")
        asyncio.run(_process(groundcode, Stage.SUGGEST, source_ids, wait=True))


@project_app.command("show")
def project_show(project: ProjectOption = "default") -> None:
    """A project's settings: blind coding, and which speakers are coded."""
    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        table = Table("setting", "value", title=f"Project {target.name}")
        table.add_row("blind coding", "yes" if target.blind else "no")
        table.add_row("revealed", "yes" if target.revealed else "no")
        table.add_row("coded speakers", groundcode.repository.coding_scope(target.id).describe())
        table.add_row("sources", str(len(groundcode.repository.list_sources(target.id))))
        console.print(table)


def _set_member(groundcode: Groundcode, project: Project, username: str, role: Role) -> None:
    try:
        user = groundcode.accounts.get_user(username)
    except NotFoundError as error:
        raise _fail(str(error)) from error
    groundcode.accounts.set_member(project.id, user.id, role)
    console.print(f"{username} is now {role.value} of project {project.name}.")


@app.command("import")
def import_command(
    files: Annotated[
        list[Path] | None, typer.Argument(help="Transcripts: txt md docx pdf vtt srt csv.")
    ] = None,
    project: ProjectOption = "default",
    codebook: Annotated[
        Path | None, typer.Option(help="Codebook file: YAML, JSON, CSV or REFI-QDA .qdc.")
    ] = None,
    unit: Annotated[SegmentUnit, typer.Option(help="Unit of analysis.")] = SegmentUnit.SENTENCE,
    language: Annotated[str | None, typer.Option(help="ISO 639-1 code; detected when omitted.")] = None,
    csv_column: Annotated[str | None, typer.Option(help="CSV column holding the answers.")] = None,
    csv_id_column: Annotated[str | None, typer.Option(help="CSV column identifying the respondent.")] = None,
    min_chars: Annotated[int, typer.Option(help="Merge segments shorter than this.")] = 0,
    max_chars: Annotated[int | None, typer.Option(help="Split segments longer than this.")] = None,
    window_chars: Annotated[int, typer.Option(help="Window size for --unit window.")] = 1000,
    overlap_chars: Annotated[int, typer.Option(help="Window overlap for --unit window.")] = 200,
    speaker_pattern: Annotated[
        list[str] | None, typer.Option(help="Extra speaker-label regex (repeatable); group 1 is the name.")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(help="Wait for chunking (with the Redis queue; the embedded queue always finishes)."),
    ] = True,
    create: Annotated[
        bool, typer.Option("--create", help="Start the project if it is new (a first import always does).")
    ] = False,
) -> None:
    """Import transcripts (and optionally a codebook), then chunk them into segments."""
    from services.chunking.segmenter import ChunkOptions

    if not files and codebook is None:
        raise _fail("name at least one file to import, or a --codebook")
    options = ChunkOptions(
        unit=unit,
        language=language,
        min_chars=min_chars,
        max_chars=max_chars,
        window_chars=window_chars,
        overlap_chars=overlap_chars,
        speaker_patterns=speaker_pattern or None,
    )
    with _groundcode(create=True) as groundcode:
        try:
            groundcode.repository.check_import_target(project, create=create)
        except NotFoundError as error:
            raise _fail(error.for_operator()) from error
        target = groundcode.repository.ensure_project(project)
        if codebook is not None:
            imported_codebook = _import_codebook(groundcode, target, codebook)
            asyncio.run(_process(groundcode, Stage.INDEX_CODEBOOK, [imported_codebook.id], wait=wait))
        results = [
            _import_one(groundcode, target, path, options, csv_column, csv_id_column) for path in files or []
        ]
        _print_import_results(results)
        source_ids = [result.source_id for result in results if result.source_id]
        if source_ids:
            asyncio.run(_process(groundcode, Stage.CHUNK, source_ids, wait=wait))
            if wait:
                _print_sources(groundcode, target)
    if any(result.error for result in results):
        raise typer.Exit(code=1)


def _import_one(
    groundcode: Groundcode,
    project: Project,
    path: Path,
    options: ChunkOptions,
    csv_column: str | None,
    csv_id_column: str | None,
) -> ImportResult:
    from services.chunking.ingest import ImportResult, ReadOptions, import_file

    settings = groundcode.settings
    try:
        data = _read_at_most(path, settings.max_file_bytes)
    except OSError as error:
        return ImportResult(filename=str(path), error=f"{path}: cannot read the file ({error.strerror})")
    read = ReadOptions(
        max_bytes=settings.max_file_bytes,
        csv_column=csv_column,
        csv_id_column=csv_id_column,
        bounds=settings.parse_bounds(),
    )
    return import_file(groundcode.repository, project.id, str(path), data, options, read)


def _read_at_most(path: Path, max_bytes: int) -> bytes:
    """The file's first ``max_bytes + 1`` bytes: enough to refuse an oversized file without reading it
    all (and without trusting its stat size: a pipe or /dev/zero has none)."""
    with path.open("rb") as file:
        return file.read(max_bytes + 1)


def _import_codebook(groundcode: Groundcode, project: Project, path: Path) -> Codebook:
    from groundcode.codebook_io import CodebookFormatError, parse_codebook
    from services.chunking.errors import UnreadableFileError
    from services.chunking.readers import decode_text

    limit = groundcode.settings.max_file_bytes
    try:
        data = _read_at_most(path, limit)
        if len(data) > limit:
            raise _fail(f"{path}: the codebook is over the {limit} byte import limit")
        text, _encoding = decode_text(str(path), data)
        codes = parse_codebook(str(path), text, namespace=project.id)
    except OSError as error:
        raise _fail(f"{path}: cannot read the codebook ({error.strerror})") from error
    except (CodebookFormatError, UnreadableFileError) as error:
        raise _fail(str(error)) from error
    stored, created = groundcode.repository.save_codebook(project.id, path.stem, codes)
    state = f"version {stored.version}" if created else f"unchanged, still version {stored.version}"
    console.print(f"Codebook [bold]{stored.name}[/bold]: {len(stored.codes)} codes ({state})")
    return stored


def _print_import_results(results: list[ImportResult]) -> None:
    for result in results:
        if result.error:
            errors.print(f"[red]refused[/red] {result.error}")
        elif result.created:
            console.print(f"[green]imported[/green] {result.filename}")
        else:
            console.print(
                f"[yellow]already imported[/yellow] {result.filename} (same content; not duplicated)"
            )


async def _process(groundcode: Groundcode, first: Stage, subject_ids: list[str], *, wait: bool) -> None:
    """Submit the subjects to ``first`` and, if asked, follow them through the later stages."""
    from groundcode.app import NEXT_STAGE, STAGE_LABELS

    async with groundcode.work_service() as work:
        items = [await work.runner.submit(first, subject_id) for subject_id in subject_ids]
        stage: Stage | None = first
        while wait and stage is not None and items:
            await _wait_with_progress(groundcode, items, STAGE_LABELS[stage])
            stage = NEXT_STAGE.get(stage)
            items = groundcode.work_items.find(stage, subject_ids) if stage else []


async def _wait_with_progress(groundcode: Groundcode, items: list[WorkItem], label: str) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from groundcode.app import wait_until_finished

    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=len(items))
        await wait_until_finished(
            groundcode.work_items,
            items,
            on_progress=lambda done, _total: progress.update(task, completed=done),
        )
    waited_for = {item.id for item in items}
    for item in groundcode.work_items.failures():
        if item.id not in waited_for:
            continue
        errors.print(f"[red]failed[/red] {item.stage.value} {item.subject_id}: {item.last_error}")


def _print_sources(groundcode: Groundcode, project: Project) -> None:
    counts = groundcode.repository.segment_counts(project.id)
    table = Table(title=f"Sources in project {project.name}")
    for column in ("id", "name", "format", "language", "characters", "segments"):
        table.add_column(column, overflow="fold")  # a long source name wraps, never cut
    for source in groundcode.repository.list_sources(project.id):
        table.add_row(
            source.id[:8],
            source.name,
            source.format,
            source.language or "?",
            str(len(source.text)),
            str(counts.get(source.id, 0)),
        )
    console.print(table)


@app.command()
def projects() -> None:
    """List the projects of this data folder, with their sources, codebook and members."""
    with _groundcode() as groundcode:
        found = groundcode.repository.list_projects()
        if not found:
            console.print("No projects yet: 'groundcode init -p NAME' or 'groundcode import FILES -p NAME'.")
            return
        table = Table("project", "sources", "codebook", "members", "created (UTC)")
        for column in table.columns:
            column.overflow = "fold"
        for project in found:
            codebook = groundcode.repository.latest_codebook(project.id)
            table.add_row(
                project.name,
                str(len(groundcode.repository.list_sources(project.id))),
                f"{codebook.name} v{codebook.version} ({len(codebook.codes)} codes)" if codebook else "-",
                ", ".join(m.user.username for m in groundcode.accounts.members(project.id)) or "-",
                f"{project.created_at:%Y-%m-%d %H:%M}",
            )
        console.print(table)


@app.command()
def sources(project: ProjectOption = "default") -> None:
    """List the project's sources with their segment counts."""
    with _groundcode() as groundcode:
        _print_sources(groundcode, _project(groundcode, project))


@app.command()
def segments(
    source: Annotated[
        str | None, typer.Argument(help="Source name or id (prefix); all sources if omitted.")
    ] = None,
    project: ProjectOption = "default",
    limit: Annotated[int, typer.Option(help="At most this many segments per source.")] = 50,
) -> None:
    """Show segments with their speaker and exact character offsets."""
    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        try:
            chosen = (
                [groundcode.repository.find_source(target.id, source)]
                if source
                else groundcode.repository.list_sources(target.id)
            )
        except NotFoundError as error:
            raise _fail(str(error)) from error
        for item in chosen:
            table = Table(title=f"{item.name} ({item.language or '?'})", show_lines=False)
            for column in ("#", "unit", "speaker", "start", "end", "text"):
                table.add_column(column, overflow="fold")
            for segment in groundcode.repository.list_segments(item.id, limit=limit):
                table.add_row(
                    str(segment.position),
                    segment.unit.value,
                    segment.speaker or "",
                    str(segment.start),
                    str(segment.end),
                    segment.text if len(segment.text) <= 160 else segment.text[:157] + "...",
                )
            console.print(table)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in any language.")],
    project: ProjectOption = "default",
    k: Annotated[int, typer.Option("-k", help="How many segments.")] = 10,
    source: Annotated[
        list[str] | None, typer.Option(help="Only these sources (name or id; repeatable).")
    ] = None,
    speaker: Annotated[list[str] | None, typer.Option(help="Only these speakers (repeatable).")] = None,
) -> None:
    """Find segments by meaning (e.g. 'trust in officials'), across English and Persian."""
    from services.retrieval.search import SegmentFilter
    from services.retrieval.search import search as search_segments

    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        try:
            source_ids = [groundcode.repository.find_source(target.id, name).id for name in source or []]
        except NotFoundError as error:
            raise _fail(str(error)) from error
        filters = SegmentFilter(source_ids=source_ids, speakers=speaker or [])
        (hits,) = search_segments(
            groundcode.embedder, groundcode.vector_store, target.id, [query], k=k, filters=filters
        )
        names = {item.id: item.name for item in groundcode.repository.list_sources(target.id)}
        table = Table(title=f"Segments matching {query!r} (ranked; scores compare only within one query)")
        for column in ("score", "source", "speaker", "text"):
            table.add_column(column, overflow="fold")
        for hit in hits:
            table.add_row(
                f"{hit.score:.3f}", names.get(hit.source_id, hit.source_id), hit.speaker or "", hit.text
            )
        console.print(table)


@app.command()
def candidates(
    source: Annotated[str, typer.Argument(help="Source name or id.")],
    position: Annotated[int, typer.Argument(help="Segment number (the # column of 'groundcode segments').")],
    project: ProjectOption = "default",
    k: Annotated[int, typer.Option("-k", help="How many codes.")] = 10,
    codebook: Annotated[str | None, typer.Option(help="Only codes of this codebook.")] = None,
) -> None:
    """The codebook codes closest in meaning to one segment: the candidates suggestion starts from."""
    from services.retrieval.search import candidate_codes

    with _groundcode() as groundcode:
        target, segment = _segment_at(groundcode, project, source, position)
        (ranked,) = candidate_codes(
            groundcode.embedder, groundcode.vector_store, target.id, [segment.text], k=k, codebook=codebook
        )
        if not ranked:
            raise _fail("the project has no indexed codebook; import one with --codebook")
        table = Table(title="Candidate codes (ranked by similarity)")
        for column in ("rank", "score", "code", "codebook"):
            table.add_column(column)
        for rank, candidate in enumerate(ranked, start=1):
            table.add_row(
                str(rank),
                f"{candidate.score:.3f}",
                candidate.name,
                f"{candidate.codebook} v{candidate.codebook_version}",
            )
        console.print(table)


@app.command()
def similar(
    source: Annotated[str, typer.Argument(help="Source name or id.")],
    position: Annotated[int, typer.Argument(help="Segment number (the # column of 'groundcode segments').")],
    project: ProjectOption = "default",
    k: Annotated[int, typer.Option("-k", help="How many segments.")] = 5,
    code: Annotated[str | None, typer.Option(help="Only segments coded with this code id.")] = None,
) -> None:
    """Already-coded segments most like one segment, with their accepted codes (the exemplars)."""
    from services.retrieval.search import ExemplarFilter, similar_segments

    with _groundcode() as groundcode:
        target, segment = _segment_at(groundcode, project, source, position)
        (hits,) = similar_segments(
            groundcode.embedder,
            groundcode.vector_store,
            target.id,
            [segment.text],
            k=k,
            filters=ExemplarFilter(code_id=code),
            exclude_segment_ids=[segment.id],
        )
        if not hits:
            console.print("No coded segments yet: exemplars appear as researchers accept codings.")
        table = Table(title="Similar coded segments")
        for column in ("score", "speaker", "codes", "text"):
            table.add_column(column, overflow="fold")
        for hit in hits:
            table.add_row(f"{hit.score:.3f}", hit.speaker or "", ", ".join(hit.code_ids), hit.text)
        console.print(table)


def _segment_at(groundcode: Groundcode, project: str, source: str, position: int) -> tuple[Project, Segment]:
    """The project and segment number ``position`` of ``source``, printed for context."""
    target = _project(groundcode, project)
    try:
        found = groundcode.repository.find_source(target.id, source)
    except NotFoundError as error:
        raise _fail(str(error)) from error
    chosen = groundcode.repository.list_segments(found.id, offset=position, limit=1)
    if not chosen:
        raise _fail(f"{found.name} has no segment number {position}")
    console.print(
        f"[bold]{found.name} #{position}[/bold] ({chosen[0].speaker or 'no speaker'}): {chosen[0].text}"
    )
    return target, chosen[0]


class ModeChoice(StrEnum):
    DEDUCTIVE = "deductive"
    INDUCTIVE = "inductive"
    BOTH = "both"


class BackendChoice(StrEnum):
    OFFLINE = "offline"
    LLM = "llm"


WEAKER_THAN_LLM = (
    "Note: offline inductive labels are key phrases of each segment, much weaker than an LLM's open "
    "coding; use --model for that."
)


@app.command()
def suggest(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source names or ids; all of the project's if omitted.")
    ] = None,
    project: ProjectOption = "default",
    mode: Annotated[
        ModeChoice | None, typer.Option(help="Codebook codes, new labels, or both (default: settings).")
    ] = None,
    backend: Annotated[
        BackendChoice | None, typer.Option(help="'offline' (no language model) or 'llm' (default: settings).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="litellm chat model; implies --backend llm (see GROUNDCODE_LLM_*).")
    ] = None,
) -> None:
    """Suggest codes for the sources' segments again (replacing this backend's earlier suggestions)."""
    overrides: dict[str, object] = {}
    if mode is not None:
        overrides["suggestion_mode"] = mode.value
    if backend is not None:
        overrides["suggestion_backend"] = backend.value
    if model is not None:
        overrides.update(llm_model=model, suggestion_backend=BackendChoice.LLM.value)
    with _groundcode(overrides) as groundcode:
        target = _project(groundcode, project)
        try:
            chosen = [groundcode.repository.find_source(target.id, name) for name in sources or []]
        except NotFoundError as error:
            raise _fail(str(error)) from error
        chosen = chosen or groundcode.repository.list_sources(target.id)
        if not chosen:
            raise _fail(f"project {target.name} has no sources; import some first")
        settings = groundcode.settings
        if (
            settings.suggestion_mode != "inductive"
            and groundcode.repository.latest_codebook(target.id) is None
        ):
            errors.print(
                "[yellow]no codebook[/yellow]: deductive suggestion is skipped (import one with --codebook)"
            )
        ids = [source.id for source in chosen]
        groundcode.work_items.reset(Stage.SUGGEST, ids)
        asyncio.run(_process(groundcode, Stage.SUGGEST, ids, wait=True))
        backend_name = groundcode.suggestion_backends(target.id)[0].backend.backend_name
        count = sum(
            suggestion.backend == backend_name
            for source_id in ids
            for suggestion in groundcode.suggestions.list_for_source(source_id)
        )
        console.print(
            f"{count} suggestions for {len(ids)} source(s) ({settings.suggestion_mode}, "
            f"{settings.suggestion_backend} backend)"
        )
        if settings.suggestion_mode != "deductive" and settings.suggestion_backend == "offline":
            console.print(WEAKER_THAN_LLM)


@app.command()
def suggestions(
    source: Annotated[str, typer.Argument(help="Source name or id.")],
    project: ProjectOption = "default",
    limit: Annotated[int, typer.Option(help="At most this many suggestions.")] = 200,
) -> None:
    """The suggested codes and labels of a source's segments, best first per segment."""
    with _groundcode() as groundcode:
        target = _project(groundcode, project)
        try:
            found = groundcode.repository.find_source(target.id, source)
        except NotFoundError as error:
            raise _fail(str(error)) from error
        positions = {
            segment.id: segment.position for segment in groundcode.repository.list_segments(found.id)
        }
        stored = groundcode.suggestions.list_for_source(found.id)
        names = _code_names(groundcode, {s.codebook_id for s in stored if s.codebook_id})
        table = Table(title=f"Suggestions for {found.name} (not yet reviewed)")
        for column in ("#", "code or proposed label", "confidence", "quote", "backend"):
            table.add_column(column, overflow="fold")
        for suggestion in stored[:limit]:
            quote = (
                found.text[suggestion.quote_start : suggestion.quote_end]
                if suggestion.quote_start is not None
                else ""
            )
            table.add_row(
                str(positions.get(suggestion.segment_id, "?")),
                _code_or_label(suggestion.code_id, suggestion.proposed_label, names),
                f"{suggestion.confidence:.2f}",
                quote if len(quote) <= 120 else quote[:117] + "...",
                suggestion.backend,
            )
        console.print(table)
        if not stored:
            console.print("No suggestions yet: 'groundcode suggest' makes them.")
        elif any(s.provenance.get("weaker_than_llm") for s in stored):
            console.print(WEAKER_THAN_LLM)


def _code_names(groundcode: Groundcode, codebook_ids: set[str]) -> dict[str, str]:
    """Code id -> name over the given codebook versions."""
    return {
        code.id: code.name
        for codebook_id in sorted(codebook_ids)
        for code in groundcode.repository.get_codebook(codebook_id).codes
    }


def _code_or_label(code_id: str | None, label: str | None, names: dict[str, str]) -> str:
    """A code by name (its id if unknown), or a proposed label marked as new."""
    return names.get(code_id, code_id) if code_id else f"new: {label}"


def _print_suggestion_summary(groundcode: Groundcode, project: Project, *, top: int = 8) -> None:
    counts = groundcode.suggestions.summary(project.id)
    codebook = groundcode.repository.latest_codebook(project.id)
    names = {code.id: code.name for code in codebook.codes} if codebook else {}
    segments = sum(groundcode.repository.segment_counts(project.id).values())
    console.print(f"{segments} segments, {sum(row.count for row in counts)} suggestions")
    table = Table(title="Most suggested codes")
    for column in ("code or proposed label", "suggestions"):
        table.add_column(column)
    for row in counts[:top]:
        table.add_row(_code_or_label(row.code_id, row.proposed_label, names), str(row.count))
    console.print(table)


@app.command()
def status(
    minutes: Annotated[float, typer.Option(min=0.1, help="Throughput over this many recent minutes.")] = 5,
) -> None:
    """Work items by stage and status, recent throughput, LLM tokens, and every failure with its error."""
    with _groundcode() as groundcode:
        counts = groundcode.work_items.counts()
        table = Table(title="Work items")
        table.add_column("stage")
        for work_status in ("pending", "running", "done", "failed"):
            table.add_column(work_status, justify="right")
        for stage in sorted({stage for stage, _status in counts}):
            table.add_row(
                stage, *(str(counts.get((stage, s), 0)) for s in ("pending", "running", "done", "failed"))
            )
        console.print(table)
        _print_throughput(groundcode, minutes)
        for item in groundcode.work_items.failures():
            errors.print(
                f"[red]failed[/red] {item.stage.value} {item.subject_id} after {item.attempts} attempts: "
                f"{item.last_error}  (work item {item.id})"
            )
        for item in groundcode.work_items.abandoned():
            errors.print(
                f"[yellow]abandoned[/yellow] {item.stage.value} {item.subject_id}: its process stopped while "
                f"running it (lease expired); 'groundcode retry' sends it again  (work item {item.id})"
            )


def _print_throughput(groundcode: Groundcode, minutes: float) -> None:
    from groundcode.observability import llm_token_totals, recent_throughput

    throughput = recent_throughput(groundcode.engine, minutes)
    if throughput:
        table = Table(title=f"Last {minutes:g} minutes")
        for column in ("stage", "done", "failed", "items/s"):
            table.add_column(column, justify="left" if column == "stage" else "right")
        for row in throughput:
            table.add_row(row.stage, str(row.done), str(row.failed), f"{row.per_second:.3g}")
        console.print(table)
    for model, tokens in llm_token_totals(groundcode.engine).items():
        console.print(f"LLM {model}: {tokens['prompt']} prompt + {tokens['completion']} completion tokens")


@app.command()
def retry(
    stage: Annotated[Stage | None, typer.Option(help="Only this stage's failures.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait until the retried items finish.")] = True,
) -> None:
    """Send failed work items, and items a stopped process left running, again with a fresh attempt budget."""
    with _groundcode() as groundcode:
        asyncio.run(_retry(groundcode, stage, wait=wait))


async def _retry(groundcode: Groundcode, stage: Stage | None, *, wait: bool) -> None:
    async with groundcode.work_service() as work:
        items = await work.runner.retry_failed(stage)
        console.print(f"Retrying {len(items)} failed or abandoned work items")
        if wait and items:
            await _wait_with_progress(groundcode, items, "Retrying")


@app.command()
def worker(
    stage: Annotated[
        list[Stage] | None, typer.Option(help="Stages to work on (repeatable); all if omitted.")
    ] = None,
    exit_when_idle: Annotated[
        bool, typer.Option(help="Stop once no work of these stages is pending or running.")
    ] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve this worker's Prometheus metrics (items processed, handler time, LLM latency and "
            "tokens) on 127.0.0.1:PORT/metrics."
        ),
    ] = None,
) -> None:
    """Process queued work: run until interrupted (scaled-out workers), or finish what is left."""
    import prometheus_client

    from groundcode.observability import configure_logging

    with _groundcode(create=True) as groundcode:
        configure_logging(groundcode.settings)
        if metrics_port is not None:
            # Loopback only: the scraper runs beside the worker; the service apps' /metrics needs a token.
            prometheus_client.start_http_server(metrics_port, addr="127.0.0.1")
        stages = tuple(stage or Stage)
        console.print(
            f"Worker for {', '.join(s.value for s in stages)} on the {groundcode.settings.queue} queue"
        )
        asyncio.run(_work(groundcode, stages, exit_when_idle=exit_when_idle))


async def _work(groundcode: Groundcode, stages: tuple[Stage, ...], *, exit_when_idle: bool) -> None:
    from groundcode.app import wait_until_idle

    async with groundcode.work_service(consume=stages):
        if exit_when_idle:
            await wait_until_idle(groundcode.work_items, stages)
        else:
            await asyncio.Event().wait()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[bool, typer.Option(help="Run the stage workers in this process.")] = True,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import uvicorn

    from groundcode.server import create_app

    # log_config=None: uvicorn's own logs go through groundcode's handler (format, secret masking).
    uvicorn.run(create_app(Settings(), run_workers=workers), host=host, port=port, log_config=None)


@app.command()
def service(
    name: Annotated[ServiceName, typer.Argument(help="Which service to run on its own.")],
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[bool, typer.Option(help="Run the stage workers in this process.")] = True,
) -> None:
    """Serve one service's HTTP API alone (scaled-out deployments; see docker-compose.yml)."""
    import uvicorn

    uvicorn.run(_service_app(name, Settings(), run_workers=workers), host=host, port=port, log_config=None)


@app.command()
def demo(project: ProjectOption = "demo") -> None:
    """Import the bundled sample interviews (English and Persian) and codebook, and suggest codes."""
    samples = resources.files("groundcode") / "samples"
    paths = sorted(Path(str(samples / name)) for name in ("interview_01_en.txt", "interview_02_fa.txt"))
    codebook = Path(str(samples / "codebook.yaml"))
    import_command(
        files=paths, project=project, codebook=codebook, unit=SegmentUnit.SENTENCE, wait=True, create=True
    )
    segments(source=None, project=project, limit=6)
    with _groundcode(create=True) as groundcode:
        target = _project(groundcode, project)
        _print_suggestion_summary(groundcode, target)
        password = _demo_reviewer(groundcode, target)
    console.print(
        f"Next: 'groundcode suggestions interview_01_en.txt -p {project}' lists the suggestions, "
        f"'groundcode segments SOURCE -p {project}' every segment, 'groundcode status' the queue."
    )
    console.print(
        f"Review them: run 'groundcode serve', open http://127.0.0.1:8000/review?project={project}, log in "
        f"as [bold]{DEMO_REVIEWER}[/bold] with the password [bold]{password}[/bold] (new at every demo run)."
    )


DEMO_REVIEWER = "demo"


def _demo_reviewer(groundcode: Groundcode, project: Project) -> str:
    """The demo's reviewer account (owner of the demo project), with a fresh random password."""
    password = secrets.token_urlsafe(9)
    if groundcode.accounts.find_user(DEMO_REVIEWER) is None:
        groundcode.accounts.add_user(DEMO_REVIEWER, password=password, display_name="Demo reviewer")
    else:
        groundcode.accounts.set_password(DEMO_REVIEWER, password)
    user = groundcode.accounts.get_user(DEMO_REVIEWER)
    groundcode.accounts.set_member(project.id, user.id, Role.OWNER)
    return password


def _project(groundcode: Groundcode, name: str) -> Project:
    try:
        return groundcode.repository.get_project(name)
    except NotFoundError as error:
        raise _fail(error.for_operator()) from error
