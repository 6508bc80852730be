"""Memos: what a write request becomes, who sees which memo, search, and the Markdown export. No I/O here.

A project, each source, each code and each coding has one memo (its id derived from what it is about); the
journal has any number of dated entries. Writing a memo appends its next version, so the history is kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import Field

from groundcode.domain import MEMO_TEXT_LIMIT, Memo, MemoKind, Model, memo_id_of, new_id, utcnow

SECTIONS: tuple[tuple[MemoKind, str], ...] = (
    (MemoKind.PROJECT, "Project memo"),
    (MemoKind.JOURNAL, "Journal"),
    (MemoKind.SOURCE, "Source memos"),
    (MemoKind.CODE, "Code memos"),
    (MemoKind.CODING, "Coding memos"),
)
"""The order memos are listed and exported in, with each section's heading."""


class MemoError(ValueError):
    """A memo request that cannot be carried out (the message says why)."""


class MemoWrite(Model):
    """Write a memo: the project's, a source's, a code's or a coding's (``subject`` names which: a source
    name or id, a code name or id, the id of the decision that made the coding), or a journal entry (a new
    one, or the entry ``memo_id``). ``version`` is the version you loaded (0 for a memo not written yet):
    if someone saved another since, the write is refused (409) instead of overwriting theirs."""

    kind: MemoKind
    subject: str | None = Field(default=None, max_length=300)
    memo_id: str | None = Field(default=None, max_length=36)
    title: str = Field(default="", max_length=300)
    text: str = Field(max_length=MEMO_TEXT_LIMIT)
    version: int = Field(default=0, ge=0)


class MemoView(Model):
    """A memo as a reader sees it: what it is about, by name, and who wrote its current version."""

    memo: Memo
    about: str  # "project", the source's name, the code's name, or the coding described
    author: str


def next_version(
    request: MemoWrite,
    project_id: str,
    subject_id: str | None,
    author_id: str,
    *,
    when: datetime | None = None,
) -> Memo:
    """The memo version ``request`` stores, by ``author_id``, about ``subject_id`` (already resolved)."""
    if request.kind is MemoKind.JOURNAL:
        memo_id = request.memo_id or new_id()
    elif request.memo_id is not None:
        raise MemoError(f"a {request.kind.value} memo is named by what it is about, not by memo_id")
    else:
        memo_id = memo_id_of(project_id, request.kind, subject_id)
    if request.kind is MemoKind.JOURNAL and request.memo_id is None and request.version:
        raise MemoError("a new journal entry has version 0; to edit an entry, give its memo_id")
    return Memo(
        memo_id=memo_id,
        project_id=project_id,
        kind=request.kind,
        subject_id=subject_id,
        title=request.title.strip(),
        text=request.text,
        version=request.version + 1,
        author_id=author_id,
        written_at=when or utcnow(),
    )


def deletion(current: Memo, seen_version: int, author_id: str) -> Memo:
    """The version that deletes a memo (its history stays); refused by the store if ``seen_version`` is
    not the newest."""
    return current.model_copy(
        update={"version": seen_version + 1, "author_id": author_id, "written_at": utcnow(), "deleted": True}
    )


def matching(memos: Sequence[Memo], text: str | None) -> list[Memo]:
    """The memos whose title or text contains ``text`` (any case), all if it is empty."""
    wanted = (text or "").casefold().strip()
    if not wanted:
        return list(memos)
    return [memo for memo in memos if wanted in memo.title.casefold() or wanted in memo.text.casefold()]


def in_section_order(views: Sequence[MemoView]) -> list[MemoView]:
    """Project memo, journal (by date), then source, code and coding memos (by what they are about)."""
    rank = {kind: index for index, (kind, _heading) in enumerate(SECTIONS)}

    def key(view: MemoView) -> tuple[int, str]:
        memo = view.memo
        within = memo.written_at.isoformat() if memo.kind is MemoKind.JOURNAL else view.about.casefold()
        return rank[memo.kind], within

    return sorted(views, key=key)


def memos_markdown(project_name: str, views: Sequence[MemoView]) -> str:
    """Every memo as one Markdown document, section by section, each with its author and date."""
    lines = [f"# Memos of project {project_name}", ""]
    ordered = in_section_order(views)
    for kind, heading in SECTIONS:
        chosen = [view for view in ordered if view.memo.kind is kind]
        if not chosen:
            continue
        lines += [f"## {heading}", ""]
        for view in chosen:
            lines += [f"### {_heading(view)}", "", f"_{_byline(view)}_", "", view.memo.text.rstrip(), ""]
    if len(lines) == 2:
        lines += ["No memos yet.", ""]
    return "\n".join(lines)


def _heading(view: MemoView) -> str:
    memo = view.memo
    if memo.kind is MemoKind.JOURNAL:
        return f"{memo.written_at:%Y-%m-%d}" + (f" — {memo.title}" if memo.title else "")
    if memo.kind is MemoKind.PROJECT:
        return memo.title or "Project memo"
    return view.about + (f" — {memo.title}" if memo.title else "")


def _byline(view: MemoView) -> str:
    memo = view.memo
    return f"{view.author}, {memo.written_at:%Y-%m-%d %H:%M} UTC, version {memo.version}"


def authors(memos: Sequence[Memo], usernames: Mapping[str, str]) -> dict[str, str]:
    """Author id -> the name shown (the username; the id itself for the command line's local operator)."""
    return {memo.author_id: usernames.get(memo.author_id, memo.author_id) for memo in memos}
