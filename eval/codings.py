"""Human codings from a CSV file into a project (``groundcode codings import FILE.csv -p PROJECT``), so that a
researcher's own coding can be scored with ``groundcode eval project``.

Columns (header names, any order, any case): ``text`` (the coded passage, as in the transcript), ``code``,
optional ``coder`` (a username; else ``--coder``) and optional ``source`` (a source's name, with or without
its extension; else every source of the project is searched). With ``id_column`` (``--csv-id-column``), that
column names the unit: the respondent id a CSV source was imported with (``groundcode import
--csv-id-column``, stored as its segments' ``speaker``); the text is then looked for in that unit only, and
a row without text codes the whole unit (each of its segments). Other columns are ignored.

Each row's text is located in the sources: exactly, else in the normalised matching view of
``groundcode.textnorm`` (Persian spellings, half-spaces, digits, case), mapped back to exact offsets. It
becomes a ``Decision`` of kind ``code`` by its coder on the segment that contains it (or overlaps it most),
for the located span. A text found more than once codes the one segment it equals whole, if there is one.
A text found nowhere, or more than once otherwise, is reported by its row number and left out.
A malformed file (not UTF-8 CSV, a required column missing, a row without text, code or coder) imports
nothing. Coders get accounts without a password and become coders of the project; codes the codebook lacks
are added to it (or, with ``strict``, refused: then nothing is imported). Decision ids are derived from
coder, span and code, so importing a file again adds nothing twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import PurePath
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from groundcode.app import Groundcode
from groundcode.domain import (
    Code,
    Codebook,
    Decision,
    DecisionKind,
    Project,
    Role,
    Segment,
    Source,
    Stage,
    User,
    derived_id,
    utcnow,
)
from groundcode.interchange.mapping import segment_for
from groundcode.textnorm import normalize_for_matching, normalized_view_with_map, original_span

REQUIRED = ("text", "code")
OPTIONAL = ("coder", "source")
DEFAULT_CODEBOOK = "codebook"


class CodingsFileError(ValueError):
    """The file cannot be imported as it is (the message says where); nothing was stored."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CodingRow(_Model):
    row: int  # as a spreadsheet numbers it: the header is row 1
    text: str  # "" with a unit: the whole unit
    code: str
    coder: str
    source: str | None
    unit: str | None = None  # the id column's value


class Located(_Model):
    row: int
    source_id: str
    segment_id: str
    start: int
    end: int
    code: str
    coder: str
    match: Literal["exact", "normalized"]


class Unlocated(_Model):
    row: int
    reason: str


def parse_codings(
    data: bytes, *, default_coder: str | None, where: str, id_column: str | None = None
) -> list[CodingRow]:
    """The file's rows, checked in full (``CodingsFileError`` on the first problem); with ``id_column``,
    that column is required and ``text`` is not. Pure."""
    try:
        text = data.decode("utf-8-sig")
        table = [(number, row) for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), 1)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise CodingsFileError(f"{where}: not a UTF-8 CSV file ({error})") from error
    if not table:
        raise CodingsFileError(f"{where}: the file is empty")
    header = [name.strip().casefold() for name in table[0][1]]
    unit = id_column.strip().casefold() if id_column else None
    required = ("code", unit) if unit else REQUIRED
    missing = [name for name in required if name not in header]
    if missing:
        raise CodingsFileError(f"{where}: no {' or '.join(missing)} column (the header is row 1)")
    named = {*REQUIRED, *OPTIONAL, *required}
    repeated = sorted({name for name in header if header.count(name) > 1} & named)
    if repeated:
        raise CodingsFileError(f"{where}: the header names {', '.join(repeated)} twice")
    column = {name: header.index(name) for name in named if name in header}
    rows = []
    for number, cells in table[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        if len(cells) != len(header):
            raise CodingsFileError(
                f"{where}, row {number}: {len(cells)} fields, the header has {len(header)}"
            )
        values = {name: cells[index].strip() for name, index in column.items()}
        coder = values.get("coder") or default_coder
        place = values.get("text") or (values[unit] if unit else "")
        for name, value in (
            ("id or text" if unit else "text", place),
            ("code", values["code"]),
            ("coder", coder),
        ):
            if not value:
                hint = " (add a coder column or --coder)" if name == "coder" else ""
                raise CodingsFileError(f"{where}, row {number}: no {name}{hint}")
        assert coder is not None
        try:
            User(username=coder)
        except ValidationError as error:
            raise CodingsFileError(
                f"{where}, row {number}: {coder!r} is not a username (letters, digits and _.@+-)"
            ) from error
        rows.append(
            CodingRow(
                row=number,
                text=values.get("text", ""),
                code=values["code"],
                coder=coder,
                source=values.get("source") or None,
                unit=values[unit] or None if unit else None,
            )
        )
    return rows


Span = tuple[Source, int, int]


def locate(
    rows: Sequence[CodingRow], sources: Sequence[Source], segments: Mapping[str, Sequence[Segment]]
) -> tuple[list[Located], list[Unlocated]]:
    """Each row's span and segment, or why it has none. Pure."""
    views: dict[str, tuple[str, list[int]]] = {}
    located: list[Located] = []
    unlocated: list[Unlocated] = []
    for row in rows:
        pool = [s for s in sources if row.source is None or row.source in (s.name, PurePath(s.name).stem)]
        if not pool:
            unlocated.append(Unlocated(row=row.row, reason=f"the project has no source named {row.source!r}"))
            continue
        where = f"source {row.source!r}" if row.source else "the project's sources"
        regions = _regions(row.unit, pool, segments)
        match: Literal["exact", "normalized"] = "exact"
        if not regions:
            found: list[Span] = []
            reason = f"{where} have no unit with id {row.unit!r}"
        elif not row.text:
            found = regions  # the whole unit
            places = len({source.id for source, _, _ in found})
            reason = f"the id {row.unit!r} is in {places} sources (a source column can say which)"
            if places > 1:
                found = []
        else:
            found, match = _find(row.text, regions, views)
            whole = [span for span in found if _is_segment(span, segments)]
            found = whole if len(found) > 1 and len(whole) == 1 else found
            where = f"unit {row.unit!r}" if row.unit else where
            reason = (
                f"the text is not in {where}"
                if not found
                else f"the text is {len(found)} times in {where}"
                + ("" if row.source or row.unit else " (a source column can say which)")
            )
            if len(found) > 1:
                found = []
        if not found:
            unlocated.append(Unlocated(row=row.row, reason=reason))
        for source, start, end in found:
            segment = segment_for(segments.get(source.id, []), start, end)
            if segment is None:
                unlocated.append(Unlocated(row=row.row, reason=f"source {source.name!r} has no segments yet"))
                continue
            located.append(
                Located(
                    row=row.row,
                    source_id=source.id,
                    segment_id=segment.id,
                    start=start,
                    end=end,
                    code=row.code,
                    coder=row.coder,
                    match=match,
                )
            )
    return located, unlocated


def _regions(
    unit: str | None, pool: Sequence[Source], segments: Mapping[str, Sequence[Segment]]
) -> list[Span]:
    """Where a row's text is looked for: the whole of every source, or each segment of the unit."""
    if unit is None:
        return [(source, 0, len(source.text)) for source in pool]
    return [(s, seg.start, seg.end) for s in pool for seg in segments.get(s.id, []) if seg.speaker == unit]


def _find(
    text: str, regions: Sequence[Span], views: dict[str, tuple[str, list[int]]]
) -> tuple[list[Span], Literal["exact", "normalized"]]:
    """The text's spans within the regions: exact ones, else those of the normalised view."""
    within: dict[str, list[tuple[int, int]]] = {}
    pool: dict[str, Source] = {}
    for source, low, high in regions:
        within.setdefault(source.id, []).append((low, high))
        pool[source.id] = source

    def inside(spans: list[Span]) -> list[Span]:
        return [(s, a, b) for s, a, b in spans if any(low <= a and b <= high for low, high in within[s.id])]

    exact = inside([(s, a, a + len(text)) for s in pool.values() for a in _occurrences(s.text, text)])
    if exact:
        return exact, "exact"
    needle = normalize_for_matching(text)
    spans: list[Span] = []
    for source in pool.values():
        if source.id not in views:
            views[source.id] = normalized_view_with_map(source.text)
        view, origin = views[source.id]
        spans += [
            (source, *original_span(source.text, origin, a, a + len(needle)))
            for a in _occurrences(view, needle)
        ]
    return inside(spans), "normalized"


def _is_segment(span: Span, segments: Mapping[str, Sequence[Segment]]) -> bool:
    source, start, end = span
    return any(segment.start == start and segment.end == end for segment in segments.get(source.id, []))


def _occurrences(text: str, part: str) -> list[int]:
    found: list[int] = []
    start = text.find(part) if part else -1
    while start >= 0:
        found.append(start)
        start = text.find(part, start + 1)
    return found


def new_codes(
    rows: Sequence[CodingRow], located: Sequence[Located], codebook: Codebook | None, project_id: str
) -> tuple[list[Code], list[str]]:
    """Codes the located rows use that the codebook lacks (matched by name in the normalised view), and the
    names of every row's codes it lacks (what ``--strict`` refuses). Pure."""
    known = {normalize_for_matching(code.name) for code in codebook.codes} if codebook else set()
    unknown = list(dict.fromkeys(row.code for row in rows if normalize_for_matching(row.code) not in known))
    added: dict[str, Code] = {}
    for row in located:
        key = normalize_for_matching(row.code)
        if key not in known and key not in added:
            added[key] = Code(id=derived_id("code", project_id, row.code.casefold()), name=row.code)
    return list(added.values()), unknown


def coding_decisions(
    located: Sequence[Located],
    project_id: str,
    codes: Sequence[Code],
    users: Mapping[str, User],
    now: datetime,
) -> list[Decision]:
    """A ``code`` decision per located row (each once), by its coder's account. Pure."""
    code_ids = {normalize_for_matching(code.name): code.id for code in codes}
    decisions: dict[str, Decision] = {}
    for row in located:
        coder_id = users[row.coder].id
        code_id = code_ids[normalize_for_matching(row.code)]
        parts = ("codings-csv", project_id, coder_id, row.segment_id, code_id, str(row.start), str(row.end))
        decision = Decision(
            id=derived_id(*parts),
            project_id=project_id,
            coder_id=coder_id,
            kind=DecisionKind.CODE,
            segment_id=row.segment_id,
            source_id=row.source_id,
            code_id=code_id,
            start=row.start,
            end=row.end,
            decided_at=now,
        )
        decisions.setdefault(decision.id, decision)
    return list(decisions.values())


class CodingsImport(_Model):
    """What an import stored, found already there, or left out."""

    project: str
    rows: int
    located: int
    normalized: int  # of them, found only in the normalised view
    stored: list[str]  # decision ids
    known: int  # codings the project already had
    new_codes: list[str]
    new_accounts: list[str]
    codebook_id: str | None  # the new codebook version, when codes were added
    unlocated: list[Unlocated]


def import_codings(
    groundcode: Groundcode,
    project: Project,
    data: bytes,
    *,
    where: str,
    default_coder: str | None = None,
    strict: bool = False,
    id_column: str | None = None,
) -> CodingsImport:
    """Read, locate and store the codings of a CSV file. Everything is checked before anything is written:
    ``CodingsFileError`` (malformed file, or unknown codes with ``strict``) leaves the project as it was."""
    rows = parse_codings(data, default_coder=default_coder, where=where, id_column=id_column)
    repository = groundcode.repository
    sources = repository.list_sources(project.id)
    located, unlocated = locate(rows, sources, {s.id: repository.list_segments(s.id) for s in sources})
    codebook = repository.latest_codebook(project.id)
    added, unknown = new_codes(rows, located, codebook, project.id)
    if strict and unknown:
        raise CodingsFileError(
            f"{where}: codes not in the codebook: {', '.join(unknown)} (without --strict they are added)"
        )
    codes = [*(codebook.codes if codebook else []), *added]
    saved = None
    if added:
        saved, _ = repository.save_codebook(
            project.id, codebook.name if codebook else DEFAULT_CODEBOOK, codes
        )
    users, created = _coders(groundcode, project, sorted({row.coder for row in located}))
    decisions = coding_decisions(located, project.id, codes, users, utcnow())
    known = {decision.id for decision in groundcode.decisions.list(project.id)}
    fresh = [decision for decision in decisions if decision.id not in known]
    groundcode.decisions.append(fresh, follow_up=Stage.LEARN)
    return CodingsImport(
        project=project.name,
        rows=len(rows),
        located=len(located),
        normalized=sum(row.match == "normalized" for row in located),
        stored=[decision.id for decision in fresh],
        known=len(decisions) - len(fresh),
        new_codes=[code.name for code in added],
        new_accounts=created,
        codebook_id=saved.id if saved else None,
        unlocated=unlocated,
    )


def _coders(
    groundcode: Groundcode, project: Project, usernames: Sequence[str]
) -> tuple[dict[str, User], list[str]]:
    """The coders' accounts (new ones without a password), each a member of the project (new members as
    coders; a member keeps their role); and the usernames created."""
    accounts = groundcode.accounts
    users: dict[str, User] = {}
    created: list[str] = []
    for username in usernames:
        user = accounts.find_user(username)
        if user is None:
            user = accounts.add_user(username)
            created.append(username)
        if accounts.role(project.id, user.id) is None:
            accounts.set_member(project.id, user.id, Role.CODER)
        users[username] = user
    return users, created
