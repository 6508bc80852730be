"""REFI-QDA projects <-> groundcode's domain models. Pure: the callers (``projects``) load and store.

Import (``match_sources``, then ``plan_import``):

* A ``QdaTextSource`` with text becomes a ``Source`` whose text is exactly the shipped text, so offsets carry
  over; if the project (or the file, earlier) already has that text, that source is used instead. Sources
  without text in the file (a bare .qde; NVivo's placeholder when the content is only in its .docx) and the
  parts groundcode does not model (PDF, picture, audio and video sources, sets, links, graphs) are reported.
* Codes become a codebook named after the file's project (``codes_from_qdc``: hierarchy, Description ->
  definition, colour).
* Users become accounts and coders of the project. A file never binds its users to existing accounts by
  itself (GUIDs are in every export, and predictable): a user is an existing account only if the importing
  owner maps its GUID to that username, or if an earlier import into the same project made that account.
  Any other user becomes a new account without a password, its id ``local_id("user", guid)`` (if that is
  taken, ``local_id("user", guid, project)``, else a fresh one), its username the user's name made unique.
* Every ``Coding`` of a selection (or of a whole source) becomes a ``Decision`` of kind ``code``, by its
  creating user (else the selection's, source's or project's) at its creation time, on the segment that
  contains its span or overlaps it most. Its id is ``local_id("coding", guid, project)``: importing a file
  again adds nothing twice.
* Memos, where QualCoder, ATLAS.ti and MAXQDA put them: the Project's Description is the project memo; its
  notes, and notes nothing refers to, are journal entries; a TextSource's Description is the source memo; a
  code's notes its code memo; a selection's Description (but not in groundcode's own files, where it only
  repeats the notes) and a coding's notes are the coding's memo. A memo already stored with the same text is
  not added again. A source's notes, description, creating user and creation time are also kept in its
  metadata under ``refi_qda``; the notes of a selection become the decision's ``note``.

Export (``project_to_qda``): every source, the latest codebook (with any code codings still use that it no
longer has), the users those refer to, and the codings in force -- only human decisions, never suggestions --
as one ``PlainTextSelection`` per source, coder and span with one ``Coding`` per code. A decision's note and,
for a decision on a suggestion, its provenance (backend, model, prompt version, confidence, rationale) are a
``Note`` on the selection. Memos go where the import reads them (the coding memos and provenance also in the
selection's Description, where QualCoder reads a coding's memo). A parent code no coding uses is not codable
(a category), and a code without a colour gets a palette colour of its own. Every GUID is ``interchange_guid``
of an immutable id (a selection's: of its source, coder and span; a note's: of its coding or code), so
exporting twice gives the same file, and what was imported goes out with the GUIDs it came with.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import Field

from groundcode import state
from groundcode.domain import (
    MEMO_TEXT_LIMIT,
    Code,
    Codebook,
    Coding,
    Decision,
    DecisionKind,
    Memo,
    MemoKind,
    Project,
    Segment,
    Source,
    User,
    content_hash,
    memo_id_of,
    new_id,
)
from groundcode.interchange.codebook import codes_from_qdc, qdc_from_codes, qdc_losses
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.refiqda import (
    Guid,
    QdaCode,
    QdaCodebook,
    QdaCoding,
    QdaModel,
    QdaNote,
    QdaProject,
    QdaSelection,
    QdaTextSource,
    QdaUser,
    interchange_guid,
    local_id,
    normalize_guid,
    walk_codes,
)
from services.chunking.ingest import segments_for
from services.chunking.language import detect_language
from services.chunking.segmenter import ChunkOptions

ORIGIN = "groundcode"
IMPORTED_BY = "refi-qda-import"
"""The author of an imported memo whose note names no user of the file."""
METADATA_KEY = "refi_qda"
DEFAULT_CODEBOOK_NAME = "REFI-QDA"
_USERNAME_PUNCTUATION = frozenset("_.@+-")
_DECIDED = {
    DecisionKind.ACCEPT: "accepted",
    DecisionKind.EDIT: "edited",
    DecisionKind.CREATE_CODE: "created as a new code",
}


class SourceRecord(QdaModel):
    """What a REFI-QDA file said of a source that ``Source`` has no field for (``metadata["refi_qda"]``)."""

    description: str | None = None
    creating_user: Guid | None = None
    creation_time: datetime | None = None
    notes: list[QdaNote] = Field(default_factory=list)


# Import


@dataclass(frozen=True)
class SourceMatch:
    """A text source of the file and the groundcode source it is: a new one (``created``) or one stored."""

    qda: QdaTextSource
    source: Source
    created: bool


@dataclass(frozen=True)
class ImportPlan:
    """Everything an import writes, and what it found already there or left out."""

    codebook_name: str
    codes: list[Code]
    sources: list[Source]  # new sources, with ``segments`` to store with them
    segments: dict[str, list[Segment]]
    users: list[User]  # the account of every user of the file, new or existing
    new_users: list[User]
    coders: list[str]  # user ids that become coders (they are not members yet)
    decisions: list[Decision]  # new decisions
    memos: list[Memo]  # new memo versions: the file's memos not stored with the same text already
    known_sources: list[str]  # names of sources whose text the project already had
    known_codings: int
    left_out: list[str]


def match_sources(
    qda: QdaProject, project_id: str, options: ChunkOptions, stored: Sequence[Source], *, where: str
) -> tuple[list[SourceMatch], list[str]]:
    """The file's text sources as groundcode sources, and a sentence for each source left out."""
    by_hash = {source.content_hash: source for source in stored}
    stored_ids = {source.id for source in stored}
    first_of_text: dict[str, str] = {}
    matches: list[SourceMatch] = []
    left_out: list[str] = []
    for text_source in qda.sources:
        label = _source_label(text_source)
        if text_source.text is None or not text_source.text.strip():
            problem = (
                "its text is not in the file (a .qde carries no text files; import the .qdpx)"
                if text_source.text is None
                else "its plain text is empty (the program kept the content only in its rich-text file)"
            )
            left_out.append(f"{label}: {problem}{_codings_lost(text_source)}")
            continue
        digest = content_hash(text_source.text)
        if digest in first_of_text:
            left_out.append(
                f"{label} has the same text as {first_of_text[digest]}: stored once, coded together"
            )
        first_of_text.setdefault(digest, label)
        known = by_hash.get(digest)
        if known is not None:
            matches.append(SourceMatch(text_source, known, created=False))
            continue
        source = _new_source(qda, text_source, text_source.text, project_id, options)
        if source.id in stored_ids:
            raise InterchangeError(
                where,
                f"{label} was imported into this project before with another text; "
                "import the file into a new project",
            )
        by_hash[digest] = source
        matches.append(SourceMatch(text_source, source, created=True))
    return matches, left_out


def plan_import(
    qda: QdaProject,
    project: Project,
    matches: Sequence[SourceMatch],
    stored_segments: Mapping[str, Sequence[Segment]],
    *,
    accounts: Sequence[User],
    member_ids: Iterable[str],
    decision_ids: Iterable[str],
    now: datetime,
    where: str,
    user_map: Mapping[str, str] | None = None,
    reusable_ids: Collection[str] = (),
    stored_memos: Sequence[Memo] = (),
) -> ImportPlan:
    """What importing ``qda`` into ``project`` writes, given the project's sources (matched by
    ``match_sources``, with the stored segments of those already there), the database's accounts, the
    project's members and its decisions; ``user_map`` binds user GUIDs to existing usernames, and
    ``reusable_ids`` are the accounts earlier imports into the project made. ``stored_memos`` (the newest
    version of each of the project's memos) say which of the file's memos are there already."""
    for code, _parent in walk_codes(qda.codes):
        if not code.name.strip():
            raise InterchangeError(where, f"Code {code.guid} has an empty name")
    codes = codes_from_qdc(QdaCodebook(origin=qda.origin, codes=qda.codes), project.id) if qda.codes else []
    users, new_users = _accounts(
        qda.users, accounts, now, user_map or {}, reusable_ids, project_id=project.id, where=where
    )
    segments: dict[str, list[Segment]] = {}
    for match in matches:
        if match.source.id not in segments:
            segments[match.source.id] = list(
                stored_segments.get(match.source.id) or segments_for(match.source)
            )
    known_ids = set(decision_ids)
    decisions: list[Decision] = []
    known_codings = 0
    left_out: list[str] = []
    for match in matches:
        found, problems = _source_decisions(qda, project, match, segments[match.source.id], users, now)
        left_out += problems
        for decision in found:
            if decision.id in known_ids:
                known_codings += 1
            else:
                known_ids.add(decision.id)
                decisions.append(decision)
    created = [match.source for match in matches if match.created]
    created_ids = {source.id for source in created}
    members = set(member_ids)
    return ImportPlan(
        codebook_name=(qda.name.strip() or DEFAULT_CODEBOOK_NAME)[:200],
        codes=codes,
        sources=created,
        segments={source.id: segments[source.id] for source in created},
        users=list(users.values()),
        new_users=new_users,
        coders=[user.id for user in users.values() if user.id not in members],
        decisions=decisions,
        memos=_imported_memos(qda, project.id, matches, users, stored_memos, known_ids, now),
        known_sources=list(
            dict.fromkeys(match.source.name for match in matches if match.source.id not in created_ids)
        ),
        known_codings=known_codings,
        left_out=left_out + _lost_notes(qda) + _unmodelled(qda) + _unlisted_users(qda, users),
    )


def segment_for(segments: Sequence[Segment], start: int, end: int) -> Segment | None:
    """The segment that contains ``[start, end)``, else overlaps it most, else is nearest (first on ties)."""

    def rank(segment: Segment) -> tuple[int, int, int]:
        overlap = max(0, min(end, segment.end) - max(start, segment.start))
        distance = max(0, segment.start - end, start - segment.end)
        return -overlap, distance, segment.position

    return min(segments, key=rank, default=None)


def _new_source(
    qda: QdaProject, text_source: QdaTextSource, text: str, project_id: str, options: ChunkOptions
) -> Source:
    notes = {note.guid: note for note in qda.notes}
    record = SourceRecord(
        description=text_source.description,
        creating_user=text_source.creating_user,
        creation_time=text_source.creation_time,
        notes=[notes[guid] for guid in text_source.note_guids],
    )
    language = options.language or detect_language(text)
    name = text_source.name if text_source.name and text_source.name.strip() else f"{text_source.guid}.txt"
    return Source(
        id=local_id("source", text_source.guid, project_id),
        project_id=project_id,
        name=name,
        format="txt",
        language=language,
        text=text,
        content_hash=content_hash(text),
        metadata={
            # What the chunk stage reads (see services.chunking.ingest.build_source): plain text, no blocks.
            "encoding": "utf-8",
            "chunking": options.model_copy(update={"language": language}).model_dump(mode="json"),
            "blocks": [],
            METADATA_KEY: record.model_dump(mode="json", exclude_defaults=True),
        },
    )


def parse_user_map(pairs: Iterable[str]) -> dict[str, str]:
    """``GUID=username`` pairs (``--map-user``) as normalised GUID -> username; ``ValueError`` if one is
    malformed."""
    found: dict[str, str] = {}
    for pair in pairs:
        guid, separator, username = pair.partition("=")
        if not separator or not username.strip():
            raise ValueError(f"{pair!r}: map a user as GUID=username")
        found[normalize_guid(guid)] = username.strip()
    return found


def _accounts(
    qda_users: Sequence[QdaUser],
    accounts: Sequence[User],
    now: datetime,
    user_map: Mapping[str, str],
    reusable_ids: Collection[str],
    *,
    project_id: str,
    where: str,
) -> tuple[dict[str, User], list[User]]:
    """The account of each user GUID (mapped, made by an earlier import into the project, or new with a
    unique username), and the new ones."""
    by_id = {account.id: account for account in accounts}
    by_name = {account.username: account for account in accounts}
    taken = {account.username.casefold() for account in accounts}
    unknown = set(user_map) - {normalize_guid(qda_user.guid) for qda_user in qda_users}
    if unknown:
        raise InterchangeError(where, f"the file has no user {', '.join(sorted(unknown))} to map")
    users: dict[str, User] = {}
    new_users: list[User] = []
    for qda_user in qda_users:
        mapped = user_map.get(normalize_guid(qda_user.guid))
        if mapped is not None:
            if mapped not in by_name:
                raise InterchangeError(where, f"User {qda_user.guid} is mapped to {mapped!r}: no such user")
            users[qda_user.guid] = by_name[mapped]
            continue
        # The GUID's own id, else one of this project's; an existing account only if this project's imports
        # made it, never another account without a mapping.
        ids = [local_id("user", qda_user.guid), local_id("user", qda_user.guid, project_id)]
        account = next((by_id[i] for i in ids if i in by_id and i in reusable_ids), None)
        if account is None:
            account_id = next((i for i in ids if i not in by_id), new_id())
            username = _unique_username(qda_user.name or qda_user.id or f"unknown-{qda_user.guid[:8]}", taken)
            account = User(
                id=account_id, username=username, display_name=qda_user.name or username, created_at=now
            )
            new_users.append(account)
            by_id[account_id] = account
        users[qda_user.guid] = account
    return users, new_users


def _unique_username(name: str, taken: set[str]) -> str:
    """``name`` as a username (letters, digits and ``_.@+-``; spaces become ``_``) not in ``taken``."""
    kept = "".join(c if c.isalpha() or c.isdecimal() or c in _USERNAME_PUNCTUATION else " " for c in name)
    base = "_".join(kept.split())[:90] or "user"
    candidate, number = base, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{base}-{number}"
    taken.add(candidate.casefold())
    return candidate


def _source_decisions(
    qda: QdaProject,
    project: Project,
    match: SourceMatch,
    segments: Sequence[Segment],
    users: Mapping[str, User],
    now: datetime,
) -> tuple[list[Decision], list[str]]:
    """A decision for every coding of the source's selections and of the whole source, and a sentence for
    each coding that cannot be one."""
    notes = {note.guid: note for note in qda.notes}
    whole_text = QdaSelection(
        guid=match.qda.guid, start=0, end=len(match.qda.text or ""), codings=match.qda.codings
    )
    decisions: list[Decision] = []
    problems: list[str] = []
    for selection in [*match.qda.selections, whole_text]:
        label = _source_label(match.qda)
        if selection is not whole_text:
            label += f", PlainTextSelection {selection.guid}"
        # A note groundcode exported for one coding of the selection belongs to that coding; others to all.
        owners = {interchange_guid("note", coding.guid): coding.guid for coding in selection.codings}
        shared = [guid for guid in selection.note_guids if guid not in owners]
        segment = segment_for(segments, selection.start, selection.end)
        if not selection.codings:
            continue
        if selection.end <= selection.start or segment is None:
            problem = "its span is empty" if segment else "the source has no segment to put it on"
            problems.append(f"{label}: {problem}; its {len(selection.codings)} coding(s) are not imported")
            continue
        for coding in selection.codings:
            coder = coding.creating_user or selection.creating_user or match.qda.creating_user
            coder = coder or qda.creating_user
            if coder is None:
                problems.append(
                    f"{label}, Coding {coding.guid}: no creatingUser says who coded; not imported"
                )
                continue
            own = [guid for guid in selection.note_guids if owners.get(guid) == coding.guid]
            texts = _note_texts(notes, [*shared, *own])
            decisions.append(
                _decision(project, match.source, segment, selection, coding, users[coder], texts, now)
            )
    return decisions, problems


def _decision(
    project: Project,
    source: Source,
    segment: Segment,
    selection: QdaSelection,
    coding: QdaCoding,
    coder: User,
    notes: Sequence[str],
    now: datetime,
) -> Decision:
    when = coding.creation_time or selection.creation_time
    return Decision(
        id=local_id("coding", coding.guid, project.id),
        project_id=project.id,
        coder_id=coder.id,
        kind=DecisionKind.CODE,
        segment_id=segment.id,
        source_id=source.id,
        code_id=local_id("code", coding.code_guid, project.id),
        start=selection.start,
        end=selection.end,
        note="\n\n".join(text for text in notes if text),
        decided_at=_utc(when) if when else now,
    )


def _note_texts(notes: Mapping[str, QdaNote], guids: Iterable[str]) -> list[str]:
    """The texts of the notes, in order (a note without text: its description, else its name)."""
    return [notes[guid].text or notes[guid].description or notes[guid].name or "" for guid in guids]


def _imported_memos(
    qda: QdaProject,
    project_id: str,
    matches: Sequence[SourceMatch],
    users: Mapping[str, User],
    stored: Sequence[Memo],
    coding_ids: Collection[str],
    now: datetime,
) -> list[Memo]:
    """The file's memos as groundcode memos, those not stored with the same text already: the project's
    Description (project memo), its notes and the notes nothing refers to (journal entries), each text
    source's Description (source memo), the notes of a code (code memo), and a selection's Description
    with the notes of each of its codings (coding memos; a groundcode file's selection Description only
    repeats its notes, for QualCoder, and is not read)."""
    notes = {note.guid: note for note in qda.notes}
    newest = {memo.memo_id: memo for memo in stored}
    found: list[Memo] = []

    def add(
        kind: MemoKind,
        subject_id: str | None,
        texts: Sequence[str | None],
        *,
        memo_id: str = "",
        title: str = "",
        user: str | None = None,
        when: datetime | None = None,
    ) -> None:
        text = "\n\n".join(part for part in texts if part and part.strip())[:MEMO_TEXT_LIMIT]
        memo_id = memo_id or memo_id_of(project_id, kind, subject_id)
        before = newest.get(memo_id)
        if not text or (before is not None and not before.deleted and before.text == text):
            return
        found.append(
            Memo(
                memo_id=memo_id,
                project_id=project_id,
                kind=kind,
                subject_id=subject_id,
                title=title.strip()[:300],
                text=text,
                version=(before.version if before else 0) + 1,
                author_id=users[user].id if user is not None and user in users else IMPORTED_BY,
                written_at=_utc(when) if when else now,
            )
        )

    add(MemoKind.PROJECT, None, [qda.description], user=qda.creating_user, when=qda.creation_time)
    referenced = _referenced_notes(qda, imported_only=False)
    for note in qda.notes:
        if note.guid in qda.note_guids or note.guid not in referenced:
            add(
                MemoKind.JOURNAL,
                None,
                [note.text or note.description],
                memo_id=local_id("memo", note.guid, project_id),
                title=note.name or "",
                user=note.creating_user,
                when=note.creation_time,
            )
    for code, _parent in walk_codes(qda.codes):
        first = notes[code.note_guids[0]] if code.note_guids else None
        add(
            MemoKind.CODE,
            local_id("code", code.guid, project_id),
            _note_texts(notes, code.note_guids),
            user=first.creating_user if first else None,
            when=first.creation_time if first else None,
        )
    for match in matches:
        source = match.qda
        add(
            MemoKind.SOURCE,
            match.source.id,
            [source.description],
            user=source.creating_user,
            when=source.creation_time,
        )
        for selection in source.selections:
            description = selection.description if qda.origin != ORIGIN else None
            for coding in selection.codings:
                decision_id = local_id("coding", coding.guid, project_id)
                if decision_id not in coding_ids:  # a coding that could not be imported
                    continue
                first = notes[coding.note_guids[0]] if coding.note_guids else None
                add(
                    MemoKind.CODING,
                    decision_id,
                    [description, *_note_texts(notes, coding.note_guids)],
                    user=first.creating_user if first else coding.creating_user or selection.creating_user,
                    when=first.creation_time if first else coding.creation_time or selection.creation_time,
                )
    return found


def _referenced_notes(qda: QdaProject, *, imported_only: bool) -> set[str]:
    """The notes a text source, selection, coding or code refers to (only of sources with text: those
    imported, with ``imported_only``)."""
    referenced = {guid for code, _parent in walk_codes(qda.codes) for guid in code.note_guids}
    for source in qda.sources:
        if imported_only and (source.text is None or not source.text.strip()):
            continue
        referenced.update(source.note_guids)
        referenced.update(guid for coding in source.codings for guid in coding.note_guids)
        for selection in source.selections:
            referenced.update(selection.note_guids)
            referenced.update(guid for coding in selection.codings for guid in coding.note_guids)
    return referenced


def _lost_notes(qda: QdaProject) -> list[str]:
    """The notes that only sources left out refer to."""
    kept = _referenced_notes(qda, imported_only=True) | set(qda.note_guids)
    every = _referenced_notes(qda, imported_only=False)
    lost = [note.name or note.guid for note in qda.notes if note.guid in every and note.guid not in kept]
    if not lost:
        return []
    return [
        f"{len(lost)} note(s) of sources left out are not kept: " + ", ".join(repr(name) for name in lost)
    ]


def _unlisted_users(qda: QdaProject, users: Mapping[str, User]) -> list[str]:
    """Warnings on creating users the file references without listing them among its Users."""
    found = []
    if qda.stray_creator is not None:
        found.append(
            f"the Project's creatingUserGUID {qda.stray_creator} is not one of its Users (QualCoder writes "
            "a random one): nothing was attributed to it"
        )
    found += [
        f"creatingUser {guid} is not one of the file's Users: what it made is imported as coder "
        f"{users[guid].username!r}"
        for guid in qda.unlisted_users
    ]
    return found


def _unmodelled(qda: QdaProject) -> list[str]:
    """What the file had that groundcode does not model: sources other than text, sets, links, graphs..."""
    sources = {name: count for name, count in qda.ignored.items() if name.endswith("Source")}
    others = {name: count for name, count in qda.ignored.items() if name not in sources}
    return [
        f"{what}: " + ", ".join(f"{count} {name}" for name, count in counts.items())
        for what, counts in (
            ("sources groundcode cannot code (it codes text)", sources),
            ("parts groundcode has no place for", others),
        )
        if counts
    ]


def _source_label(source: QdaTextSource) -> str:
    return f"TextSource {source.name!r} ({source.guid})"


def _codings_lost(source: QdaTextSource) -> str:
    count = len(source.codings) + sum(len(selection.codings) for selection in source.selections)
    return f"; its {count} coding(s) are not imported" if count else ""


def _utc(value: datetime) -> datetime:
    """REFI-QDA times without a zone are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Export


@dataclass(frozen=True)
class ProjectExport:
    project: QdaProject
    losses: list[str]  # what REFI-QDA cannot carry, one sentence each


def project_to_qda(
    project: Project,
    sources: Sequence[Source],
    codebook: Codebook | None,
    code_index: Mapping[str, Code],
    users: Sequence[User],
    decisions: Sequence[Decision],
    memos: Sequence[Memo] = (),
) -> ProjectExport:
    """The REFI-QDA project of ``project`` with the codings in force of ``decisions`` and ``memos`` (pass
    only the decisions and memos the reader may see)."""
    scope = project.id
    memo_of = {(memo.kind, memo.subject_id): memo for memo in memos}
    account_ids = {user.id for user in users}
    found = state.codings(decisions)
    codes, losses = _exported_codes(codebook, code_index, {coding.code_id for coding in found})
    code_names = {code.id: code.name for code in codes}
    source_ids = {source.id for source in sources}
    codings = [c for c in found if c.code_id in code_names and c.source_id in source_ids]
    if len(codings) < len(found):
        losses.append(f"{len(found) - len(codings)} coding(s) of codes no codebook has are left out")
    # Selections: one per source, coder and span. Orders use times and GUIDs, never ids, so that a project
    # imported from an export is exported in the same order again.
    groups: dict[str, dict[tuple[str, int, int], list[Coding]]] = {}
    for coding in sorted(
        codings, key=lambda c: (c.decided_at, interchange_guid("coding", c.decision_id, scope))
    ):
        spans = groups.setdefault(coding.source_id, {})
        spans.setdefault((interchange_guid("user", coding.coder_id), coding.start, coding.end), []).append(
            coding
        )
    by_decision = {decision.id: decision for decision in decisions}
    referenced_users = {coding.coder_id for coding in codings}
    referenced_users |= {memo.author_id for memo in memos if memo.author_id in account_ids}
    notes: list[QdaNote] = []
    qda_sources = []
    for source in sorted(sources, key=lambda s: (s.name, interchange_guid("source", s.id, scope))):
        record = SourceRecord.model_validate(source.metadata.get(METADATA_KEY, {}))
        notes += record.notes
        for guid in [record.creating_user, *(note.creating_user for note in record.notes)]:
            if guid is not None:
                referenced_users.add(local_id("user", guid))
        spans = groups.get(source.id, {})
        selections = []
        for key in sorted(spans, key=lambda key: (key[1], key[2], key[0])):
            selection, selection_notes = _selection(
                scope, source, key, spans[key], by_decision, code_names, memo_of, account_ids
            )
            selections.append(selection)
            notes += selection_notes
        source_memo = memo_of.get((MemoKind.SOURCE, source.id))
        qda_sources.append(
            QdaTextSource(
                guid=interchange_guid("source", source.id, scope),
                name=source.name,
                description=source_memo.text if source_memo else record.description,
                text=source.text,
                creating_user=record.creating_user,
                creation_time=record.creation_time or source.imported_at,
                selections=selections,
                note_guids=[note.guid for note in record.notes],
            )
        )
    qda_users = sorted(
        (
            QdaUser(guid=interchange_guid("user", user.id), name=user.display_name or user.username)
            for user in users
            if user.id in referenced_users
        ),
        key=lambda user: (user.name or "", user.guid),
    )
    unexported = [d for d in state.effective(decisions) if d.kind in (DecisionKind.REJECT, DecisionKind.SKIP)]
    no_code = sum(len(segments) for segments in state.no_code_segments(decisions).values())
    if unexported or no_code:
        losses.append(
            f'{len(unexported)} rejection(s) and skip(s), {no_code} "no code applies" mark(s): '
            "REFI-QDA has no place for them"
        )
    journal = [
        _memo_note(
            memo,
            memo.title or f"Journal {memo.written_at:%Y-%m-%d}",
            interchange_guid("memo", memo.memo_id, scope),
            account_ids,
        )
        for memo in memos
        if memo.kind is MemoKind.JOURNAL
    ]
    code_notes = {
        code.id: _memo_note(
            memo, f"Memo on code {code.name!r}", _memo_guid("code", code.id, scope), account_ids
        )
        for code in codes
        if (memo := memo_of.get((MemoKind.CODE, code.id))) is not None
    }
    project_memo = memo_of.get((MemoKind.PROJECT, None))
    applied = {coding.code_id for coding in codings}
    qda_codes = qdc_from_codes(codes, ORIGIN, scope, applied).codes if codes else []
    qda = QdaProject(
        name=project.name,
        origin=ORIGIN,
        description=project_memo.text if project_memo else None,
        users=qda_users,
        codes=_with_code_notes(
            qda_codes, {interchange_guid("code", c, scope): n for c, n in code_notes.items()}
        ),
        sources=qda_sources,
        notes=[*journal, *code_notes.values(), *notes],
        note_guids=[note.guid for note in journal],
    )
    return ProjectExport(project=qda, losses=losses)


def _exported_codes(
    codebook: Codebook | None, code_index: Mapping[str, Code], used: set[str]
) -> tuple[list[Code], list[str]]:
    """The codebook's codes, then the codes codings use that it no longer has (under their parent if it is
    there), and what REFI-QDA cannot carry of them."""
    codes = list(codebook.codes) if codebook else []
    present = {code.id for code in codes}
    former = sorted(
        (code_index[code_id] for code_id in used - present if code_id in code_index),
        key=lambda code: (code.name, code.id),
    )
    codes += [
        code.model_copy(update={"parent_id": code.parent_id if code.parent_id in present else None})
        for code in former
    ]
    losses = qdc_losses(codes)
    if former:
        losses.append(
            f"{len(former)} code(s) no longer in the codebook are exported because codings use them: "
            + ", ".join(code.name for code in former)
        )
    return codes, losses


def _selection(
    scope: str,
    source: Source,
    key: tuple[str, int, int],
    group: Sequence[Coding],
    by_decision: Mapping[str, Decision],
    code_names: Mapping[str, str],
    memo_of: Mapping[tuple[MemoKind, str | None], Memo],
    account_ids: Collection[str],
) -> tuple[QdaSelection, list[QdaNote]]:
    """One coder's selection of a span (``key``: coder GUID, start, end) with one coding per code, the first
    made, and the notes of its codings: each coding's memo is a note on the coding, and the decisions' notes
    and provenance a note on the selection. The selection's Description repeats them all, because that is
    where QualCoder reads a coding's memo."""
    coder_guid, start, end = key
    first: dict[str, Coding] = {}
    for coding in group:
        first.setdefault(coding.code_id, coding)
    qda_codings = []
    notes: list[QdaNote] = []
    selection_notes: list[str] = []
    described: list[str] = []
    for coding in first.values():
        coding_guid = interchange_guid("coding", coding.decision_id, scope)
        memo = memo_of.get((MemoKind.CODING, coding.decision_id))
        memo_notes = (
            []
            if memo is None
            else [
                _memo_note(
                    memo,
                    f"Memo on coding {code_names[coding.code_id]!r}",
                    _memo_guid("coding", coding.decision_id, scope),
                    account_ids,
                )
            ]
        )
        notes += memo_notes
        described += [note.text or "" for note in memo_notes]
        text = _note_text(by_decision[coding.decision_id])
        if text:
            note = QdaNote(
                guid=interchange_guid("note", coding_guid),
                name=f"On coding {code_names[coding.code_id]!r}",
                text=text,
                creating_user=coder_guid,
                creation_time=coding.decided_at,
            )
            notes.append(note)
            selection_notes.append(note.guid)
            described.append(text)
        qda_codings.append(
            QdaCoding(
                guid=coding_guid,
                code_guid=interchange_guid("code", coding.code_id, scope),
                creating_user=coder_guid,
                creation_time=coding.decided_at,
                note_guids=[note.guid for note in memo_notes],
            )
        )
    source_guid = interchange_guid("source", source.id, scope)
    selection = QdaSelection(
        guid=interchange_guid("selection", f"{source_guid}/{coder_guid}/{start}/{end}"),
        start=start,
        end=end,
        creating_user=coder_guid,
        creation_time=group[0].decided_at,
        description="\n\n".join(described) or None,
        codings=qda_codings,
        note_guids=selection_notes,
    )
    return selection, notes


def _memo_guid(kind: str, subject_id: str, scope: str) -> str:
    """The GUID of the note of a code's or coding's memo: derived from the subject's GUID, which an import
    keeps, so that a project exported again after an import gives the same file."""
    return interchange_guid("memo", interchange_guid(kind, subject_id, scope))


def _memo_note(memo: Memo, name: str, guid: str, account_ids: Collection[str]) -> QdaNote:
    """A memo as a REFI-QDA note, by its author if the author is an exported user (``account_ids``)."""
    return QdaNote(
        guid=guid,
        name=name,
        text=memo.text,
        creating_user=interchange_guid("user", memo.author_id) if memo.author_id in account_ids else None,
        creation_time=memo.written_at,
    )


def _with_code_notes(codes: Sequence[QdaCode], notes: Mapping[str, QdaNote]) -> list[QdaCode]:
    """The code tree with each code's memo note (``notes``: code GUID -> note) referenced from the code."""
    return [
        code.model_copy(
            update={
                "note_guids": [*code.note_guids, *([notes[code.guid].guid] if code.guid in notes else [])],
                "children": _with_code_notes(code.children, notes),
            }
        )
        for code in codes
    ]


def _note_text(decision: Decision) -> str:
    """The decision's note, then the provenance of the suggestion it was made on."""
    snapshot = decision.suggestion or {}
    provenance = [
        f"{label}: {snapshot[key]}"
        for label, key in (("backend", "backend"), ("model", "model"), ("prompt version", "prompt_version"))
        if snapshot.get(key)
    ]
    if "confidence" in snapshot:
        provenance.append(f"confidence: {float(snapshot['confidence']):.3f}")
    if snapshot.get("rationale"):
        provenance.append(f"rationale: {snapshot['rationale']}")
    if provenance:
        provenance.insert(0, f"groundcode suggestion, {_DECIDED.get(decision.kind, decision.kind.value)}")
    return "\n\n".join(part for part in (decision.note, "\n".join(provenance)) if part)
