"""``groundcode memo …``: write, list, search, show, delete and export memos from the command line.

The command line acts as the local operator (an owner): what it writes is signed ``local-operator``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from groundcode.domain import Access, Memo, MemoKind
from services.analysis.cli import ProjectOption, _analysis

if TYPE_CHECKING:
    from services.analysis.memos import MemoView
    from services.analysis.service import Analysis

memo_app = typer.Typer(
    help="Memos: the project's, a source's, a code's, a coding's, and a dated journal; every version kept.",
    no_args_is_help=True,
)
console = Console()

SubjectArgument = Annotated[
    str | None,
    typer.Argument(help="What a source, code or coding memo is about: source name, code name, or coding id."),
]


@memo_app.command("write")
def write(
    kind: Annotated[MemoKind, typer.Argument(help="project, source, code, coding or journal.")],
    subject: SubjectArgument = None,
    project: ProjectOption = "default",
    text: Annotated[str | None, typer.Option(help="The memo's text.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Read the text from this file ('-': standard input).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="A title (kept if omitted).")] = None,
    append: Annotated[
        bool, typer.Option("--append", help="Add the text as a new paragraph instead of replacing.")
    ] = False,
    entry: Annotated[
        str | None, typer.Option(help="The journal entry to edit (its id from 'memo list'); else a new one.")
    ] = None,
) -> None:
    """Write a memo: a new version on top of the current one (the earlier versions are kept)."""
    from services.analysis.memos import MemoError, MemoWrite

    if (text is None) == (file is None):
        raise typer.BadParameter("give the text with --text or --file", param_hint="--text")
    body = text if text is not None else _read_text(file)
    with _analysis(project) as (analysis, operator):
        try:
            current = _current(analysis, operator, kind, subject, entry)
            if current is not None and append and current.text and not current.deleted:
                body = f"{current.text.rstrip()}\n\n{body}"
            request = MemoWrite(
                kind=kind,
                subject=subject,
                memo_id=current.memo_id if kind is MemoKind.JOURNAL and current is not None else None,
                title=title if title is not None else current.title if current is not None else "",
                text=body,
                version=current.version if current is not None else 0,
            )
            stored = analysis.write_memo(operator, request)
        except (MemoError, LookupError) as error:
            raise typer.BadParameter(str(error)) from error
    memo = stored.memo
    console.print(
        f"Memo {memo.memo_id[:8]} ({memo.kind.value}, {escape(stored.about)}) version {memo.version} saved."
    )


@memo_app.command("list")
def list_memos(
    project: ProjectOption = "default",
    kind: Annotated[MemoKind | None, typer.Option(help="Only memos of this kind.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only the memo about this source, code or coding (needs --kind).")
    ] = None,
    search: Annotated[str | None, typer.Option(help="Only memos whose title or text contains this.")] = None,
) -> None:
    """The memos as they stand, project memo and journal first, with the start of each text."""
    from services.analysis.memos import MemoError

    with _analysis(project) as (analysis, operator):
        try:
            views = analysis.memo_list(operator, kind, subject, search)
        except (MemoError, LookupError) as error:
            raise typer.BadParameter(str(error)) from error
    table = Table(title="Memos ('groundcode memo show ID' for the whole text, author and history)")
    for column in ("id", "kind", "about", "title", "written", "text"):
        table.add_column(column, overflow="fold")  # names are never cut
    for view in views:
        memo = view.memo
        first = memo.text.strip().splitlines()[0] if memo.text.strip() else ""
        table.add_row(
            memo.memo_id[:8],
            memo.kind.value,
            escape(view.about),
            escape(memo.title),
            f"{memo.written_at:%Y-%m-%d}",
            escape(first if len(first) <= 60 else first[:57] + "..."),
        )
    console.print(table if views else "No memos yet: 'groundcode memo write KIND [SUBJECT] --text ...'.")


@memo_app.command("show")
def show(
    memo: Annotated[str, typer.Argument(help="The memo's id (or the start of it, from 'memo list').")],
    project: ProjectOption = "default",
    history: Annotated[bool, typer.Option("--history", help="Every version, oldest first.")] = False,
) -> None:
    """A memo's whole text (or every version of it)."""
    with _analysis(project) as (analysis, operator):
        chosen = _memo_named(analysis, operator, memo)
        versions = analysis.memo_history(operator, chosen.memo.memo_id) if history else [chosen]
    for view in versions:
        shown = view.memo
        state = " (deleted)" if shown.deleted else ""
        console.print(
            f"[bold]{escape(shown.title or view.about)}[/bold] — {shown.kind.value}, {escape(view.about)}; "
            f"version {shown.version}{state} by {escape(view.author)}, {shown.written_at:%Y-%m-%d %H:%M} UTC"
        )
        console.print(escape(shown.text), highlight=False)
        console.print()


@memo_app.command("delete")
def delete(
    memo: Annotated[str, typer.Argument(help="The memo's id (or the start of it, from 'memo list').")],
    project: ProjectOption = "default",
) -> None:
    """Delete a memo: it leaves the lists and exports, its history is kept."""
    with _analysis(project) as (analysis, operator):
        chosen = _memo_named(analysis, operator, memo)
        analysis.delete_memo(operator, chosen.memo.memo_id, chosen.memo.version)
    console.print(f"Memo {chosen.memo.memo_id[:8]} deleted (its {chosen.memo.version} versions are kept).")


@memo_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="The Markdown file to write.")],
    project: ProjectOption = "default",
) -> None:
    """Every memo as one Markdown document: project memo, journal, source, code and coding memos."""
    with _analysis(project) as (analysis, operator):
        text = analysis.memos_markdown(operator)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        raise typer.BadParameter(
            f"{out}: cannot write the file ({error.strerror})", param_hint="--out"
        ) from error
    console.print(f"Wrote {out}")


def _current(
    analysis: Analysis, who: Access, kind: MemoKind, subject: str | None, entry: str | None
) -> Memo | None:
    """The memo version a write goes on top of: the journal entry named, or the subject's memo (if any)."""
    if kind is MemoKind.JOURNAL:
        return _memo_named(analysis, who, entry).memo if entry is not None else None
    if entry is not None:
        raise typer.BadParameter("--entry names a journal entry", param_hint="--entry")
    return analysis.current_memo(who, kind, subject)


def _memo_named(analysis: Analysis, who: Access, wanted: str) -> MemoView:
    """The visible memo whose id is or starts with ``wanted``; an error naming it if none or several."""
    found = [view for view in analysis.memo_list(who) if view.memo.memo_id.startswith(wanted)]
    if len(found) != 1:
        problem = "no memo" if not found else f"{len(found)} memos"
        raise typer.BadParameter(f"{problem} with an id starting {wanted!r}; see 'groundcode memo list'")
    return found[0]


def _read_text(file: Path | None) -> str:
    if file is None or str(file) == "-":
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"{file}: cannot read the text ({error})", param_hint="--file") from error
