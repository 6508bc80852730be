"""REFI-QDA (QDA-XML 1.0) projects and codebooks as typed models, with their readers and writers.

The models know nothing of groundcode's database: a ``QdaProject`` is what a .qdpx/.qde file says, checked
(every reference resolves, every span lies inside its text) and nothing more.

* **Offsets**: ``QdaSelection.start``/``end`` are 0-based Unicode code points, end exclusive, into exactly
  ``QdaTextSource.text`` -- the shipped ``sources/<guid>.txt`` (UTF-8, written without a BOM) or the inline
  ``PlainTextContent``. That is groundcode's own convention, so ``text[start:end]`` is the coded span.
* **Texts**: ``internal://NAME`` is ``sources/NAME`` inside the .qdpx (its absence is an error);
  ``relative://PATH`` is a file outside the archive, read only from the ``linked_files`` folder the caller
  names (never from the exporter's ``basePath``). A bare .qde carries no files, so those texts are ``None``.
* **GUIDs** are normalised to lower case without braces (vendors write either), so they compare
  case-insensitively. An exported object's GUID is ``interchange_guid(kind, id, scope)``, derived from its
  immutable id, so every export of the same object carries the same GUID; ``local_id`` is its inverse, the
  id an object imported with a GUID gets, so what was imported is exported with the GUIDs it came with.
* **Validation**: what is read and what is written is checked against the bundled XSDs; a file that does
  not follow them is refused rather than half read.
* Picture, PDF, audio and video sources, cases, variables, sets, links and graphs are not modelled; how
  many of each a file had is kept in ``QdaProject.ignored``.

``groundcode.interchange.mapping`` maps a ``QdaProject`` to groundcode's models and back:

* ``QdaTextSource`` <-> ``Source``: ``text`` is ``Source.text`` unchanged, so offsets carry over as they are.
* ``QdaCode`` tree <-> the codebook's ``Code``s (see ``groundcode.interchange.codebook``).
* ``QdaUser`` <-> a coder (the researcher who accepted or made a coding).
* ``QdaSelection`` + its ``QdaCoding`` <-> one accepted coding: the selection's start/end are the coding's
  span, ``CodeRef`` its code, the coding's ``creatingUser`` the coder, ``creationDateTime`` the decision
  time. Several codes on one span are several codings of one selection. Codings imported from another
  program become human codings with no suggestion behind them. ``QdaTextSource.codings`` (codings of a
  whole source) map to a coding that spans the whole text.
* The provenance of an accepted suggestion (backend, model, prompt version, confidence, rationale) has no
  REFI-QDA field: it is exported as a ``QdaNote`` attached to the selection by ``NoteRef``.
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from lxml import etree
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from groundcode.domain import derived_id
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.safe_input import ArchiveLimits, QdpxArchive, parse_xml, unsafe_member_name
from groundcode.interchange.validate import SchemaName, check_against_schema

PROJECT_NAMESPACE = "urn:QDA-XML:project:1.0"
CODEBOOK_NAMESPACE = "urn:QDA-XML:codebook:1.0"
DEFAULT_LIMITS = ArchiveLimits()

_HEX_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(rf"(?P<bare>{_HEX_GUID})|\{{(?P<braced>{_HEX_GUID})\}}")
_MODELLED_PROJECT_PARTS = {"Users", "CodeBook", "Sources", "Notes", "Description", "NoteRef"}
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip's earliest date: the same bytes on every export
_ID_BITS = ((1 << 128) - 1) ^ (0xF << 76) ^ (0x3 << 62)  # all but a UUID's version and variant bits


def normalize_guid(value: str) -> str:
    """A GUID in the XSD's pattern, lower case and without braces; ``ValueError`` if it is not one."""
    match = _GUID.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a GUID")
    return (match["bare"] or match["braced"]).lower()


def interchange_guid(kind: str, immutable_id: str, scope: str = "") -> str:
    """The GUID an exported groundcode object carries, derived from its kind and immutable id.

    ``scope`` is what the id is unique in (the project, for its sources, codes and codings; empty for users,
    who belong to no project). A UUID id is masked with a key of kind and scope, which ``local_id`` undoes:
    a hash could not give an imported object back the GUID it came with. Other ids get a UUID5.
    """
    number = _uuid_number(immutable_id)
    if number is None:
        return derived_id("refi-qda", kind, scope, immutable_id)
    return str(uuid.UUID(int=number ^ _guid_mask(kind, scope)))


def local_id(kind: str, guid: str, scope: str = "") -> str:
    """The groundcode id of an object imported with ``guid``: ``interchange_guid`` of it gives ``guid`` back.

    Different scopes give different ids for the same GUID, so one file imported into two projects never
    makes two sources or decisions share an id."""
    return str(uuid.UUID(int=uuid.UUID(normalize_guid(guid)).int ^ _guid_mask(kind, scope)))


def _uuid_number(value: str) -> int | None:
    """The number of a UUID written the way groundcode writes ids (lower case, with dashes), else None."""
    try:
        number = uuid.UUID(value).int
    except ValueError:
        return None
    return number if str(uuid.UUID(int=number)) == value else None


def _guid_mask(kind: str, scope: str) -> int:
    # The mask leaves the version and variant bits alone, so a UUID4 id gives a well-formed UUID4 GUID.
    return uuid.UUID(derived_id("refi-qda-mask", kind, scope)).int & _ID_BITS


Guid = Annotated[str, AfterValidator(normalize_guid)]
RgbColor = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})$")
]


class QdaModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QdaUser(QdaModel):
    guid: Guid
    name: str | None = None
    id: str | None = None  # the program's short user id (initials), not a GUID


class QdaCode(QdaModel):
    guid: Guid
    name: str
    is_codable: bool = True
    description: str | None = None
    color: RgbColor | None = None
    note_guids: list[Guid] = Field(default_factory=list)
    children: list[QdaCode] = Field(default_factory=list)


class QdaCodebook(QdaModel):
    origin: str | None = None
    codes: list[QdaCode] = Field(min_length=1)


class QdaCoding(QdaModel):
    guid: Guid
    code_guid: Guid
    creating_user: Guid | None = None
    creation_time: datetime | None = None
    note_guids: list[Guid] = Field(default_factory=list)


class QdaSelection(QdaModel):
    """A ``PlainTextSelection``: code points ``[start, end)`` of its source's text."""

    guid: Guid
    name: str | None = None
    start: int
    end: int
    description: str | None = None
    creating_user: Guid | None = None
    creation_time: datetime | None = None
    codings: list[QdaCoding] = Field(default_factory=list)
    note_guids: list[Guid] = Field(default_factory=list)


class QdaTextSource(QdaModel):
    """A ``TextSource``; ``text`` is None when the file read did not carry it (a bare .qde, a linked file)."""

    guid: Guid
    name: str | None = None
    description: str | None = None
    text: str | None
    creating_user: Guid | None = None
    creation_time: datetime | None = None
    selections: list[QdaSelection] = Field(default_factory=list)
    codings: list[QdaCoding] = Field(default_factory=list)  # codings of the whole source
    note_guids: list[Guid] = Field(default_factory=list)


class QdaNote(QdaModel):
    """A memo; sources, selections, codings, codes and the project point to it with ``NoteRef``."""

    guid: Guid
    name: str | None = None
    description: str | None = None
    text: str | None
    creating_user: Guid | None = None
    creation_time: datetime | None = None


class QdaProject(QdaModel):
    name: str
    origin: str | None = None
    creating_user: Guid | None = None
    creation_time: datetime | None = None
    description: str | None = None
    users: list[QdaUser] = Field(default_factory=list)
    codes: list[QdaCode] = Field(default_factory=list)
    sources: list[QdaTextSource] = Field(default_factory=list)
    notes: list[QdaNote] = Field(default_factory=list)
    note_guids: list[Guid] = Field(default_factory=list)  # notes about the project as a whole
    ignored: dict[str, int] = Field(default_factory=dict)  # element name -> count of what was not modelled
    # A creatingUserGUID on the Project that is not one of its Users, not used (QualCoder writes a random
    # one: "there is no creating user in QualCoder").
    stray_creator: Guid | None = None
    # creatingUser GUIDs of notes, sources, selections or codings that were not among the Users: added to
    # ``users`` without a name, so that what they made is kept and said to be of an unnamed coder.
    unlisted_users: list[Guid] = Field(default_factory=list)


def walk_codes(
    codes: Sequence[QdaCode], parent: QdaCode | None = None
) -> Iterator[tuple[QdaCode, QdaCode | None]]:
    """Every code of a code tree with its parent, parents before their children."""
    for code in codes:
        yield code, parent
        yield from walk_codes(code.children, code)


# Reading


def read_codebook(document: bytes | str, where: str = "codebook (.qdc)") -> QdaCodebook:
    """Read a .qdc document (bytes, or text already decoded) into a checked ``QdaCodebook``."""
    root = parse_xml(document, where)
    check_against_schema(root, "Codebook", where)
    codebook = _Reader(CODEBOOK_NAMESPACE, where).codebook(root)
    _unique_guids("Code", ((code.guid, code.name) for code, _ in walk_codes(codebook.codes)), where)
    return codebook


def read_project(
    document: Path | bytes, *, linked_files: Path | None = None, limits: ArchiveLimits = DEFAULT_LIMITS
) -> QdaProject:
    """Read a .qdpx archive or a bare .qde document (a path, or its bytes) into a checked ``QdaProject``.

    Raises ``InterchangeError`` for anything hostile, malformed or inconsistent; nothing is returned then.
    """
    where, data = _load(document, limits)
    if data.startswith(b"PK"):
        with closing(QdpxArchive(data, where, limits)) as archive:
            member = f"{where}/{archive.project_member}"
            reader = _Reader(
                PROJECT_NAMESPACE, member, archive=archive, linked_files=linked_files, limits=limits
            )
            return _read_project_xml(archive.project_xml(), reader)
    return _read_project_xml(
        data, _Reader(PROJECT_NAMESPACE, where, linked_files=linked_files, limits=limits)
    )


def _load(document: Path | bytes, limits: ArchiveLimits) -> tuple[str, bytes]:
    where = "project" if isinstance(document, bytes) else str(document)
    try:
        size = len(document) if isinstance(document, bytes) else document.stat().st_size
        if size > limits.max_total_bytes:
            raise InterchangeError(
                where, f"the file is larger than the limit of {limits.max_total_bytes} bytes"
            )
        return where, document if isinstance(document, bytes) else document.read_bytes()
    except OSError as error:
        raise InterchangeError(where, f"cannot be read ({error.strerror})") from error


def _read_project_xml(xml: bytes, reader: _Reader) -> QdaProject:
    root = parse_xml(xml, reader.where)
    check_against_schema(root, "Project", reader.where)
    project = reader.project(root)
    check_project(project, reader.where)
    return project


ModelT = TypeVar("ModelT", bound=QdaModel)


class _Reader:
    """Turns a schema-valid document into models; linked texts come from the archive or the linked folder."""

    def __init__(
        self,
        namespace: str,
        where: str,
        *,
        archive: QdpxArchive | None = None,
        linked_files: Path | None = None,
        limits: ArchiveLimits = DEFAULT_LIMITS,
    ) -> None:
        self.namespaces = {"q": namespace}
        self.where = where
        self.archive = archive
        self.linked_files = linked_files
        self.limits = limits

    def all(self, element: etree._Element, path: str) -> list[etree._Element]:
        return element.findall(path, self.namespaces)

    def child_text(self, element: etree._Element, name: str) -> str | None:
        child = element.find(f"q:{name}", self.namespaces)
        return None if child is None else child.text or ""

    def references(self, element: etree._Element, name: str = "NoteRef") -> list[str | None]:
        return [reference.get("targetGUID") for reference in self.all(element, f"q:{name}")]

    def build(self, model: type[ModelT], element: etree._Element, values: dict[str, Any]) -> ModelT:
        try:
            return model.model_validate(values)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise InterchangeError(
                self.where,
                f"line {element.sourceline}: {_local_name(element)} {values.get('guid')}: "
                f"{field}: {first['msg']}",
            ) from error

    def codebook(self, root: etree._Element) -> QdaCodebook:
        codes = [self.code(element) for element in self.all(root, "q:Codes/q:Code")]
        return self.build(QdaCodebook, root, {"origin": root.get("origin"), "codes": codes})

    def project(self, root: etree._Element) -> QdaProject:
        sources = [self.text_source(element) for element in self.all(root, "q:Sources/q:TextSource")]
        unmodelled = [
            item
            for part in root.iterchildren("*")
            if _local_name(part) not in _MODELLED_PROJECT_PARTS
            for item in part.iterchildren("*")
        ]
        unmodelled += [item for item in self.all(root, "q:Sources/*") if _local_name(item) != "TextSource"]
        ignored = Counter(_local_name(item) for item in unmodelled)
        values = {
            "name": root.get("name"),
            "origin": root.get("origin"),
            "creating_user": root.get("creatingUserGUID"),
            "creation_time": root.get("creationDateTime"),
            "description": self.child_text(root, "Description"),
            "users": [self.user(element) for element in self.all(root, "q:Users/q:User")],
            "codes": [self.code(element) for element in self.all(root, "q:CodeBook/q:Codes/q:Code")],
            "sources": sources,
            "notes": [self.note(element) for element in self.all(root, "q:Notes/q:Note")],
            "note_guids": self.references(root),
            "ignored": dict(sorted(ignored.items())),
        }
        return _with_unlisted_users(self.build(QdaProject, root, values))

    def user(self, element: etree._Element) -> QdaUser:
        values = {"guid": element.get("guid"), "name": element.get("name"), "id": element.get("id")}
        return self.build(QdaUser, element, values)

    def code(self, element: etree._Element) -> QdaCode:
        values = {
            "guid": element.get("guid"),
            "name": element.get("name"),
            "is_codable": element.get("isCodable"),
            "description": self.child_text(element, "Description"),
            "color": element.get("color"),
            "note_guids": self.references(element),
            "children": [self.code(child) for child in self.all(element, "q:Code")],
        }
        return self.build(QdaCode, element, values)

    def coding(self, element: etree._Element) -> QdaCoding:
        values = {
            "guid": element.get("guid"),
            "code_guid": self.references(element, "CodeRef")[0],
            **self.created(element),
            "note_guids": self.references(element),
        }
        return self.build(QdaCoding, element, values)

    def selection(self, element: etree._Element) -> QdaSelection:
        values = {
            "guid": element.get("guid"),
            "name": element.get("name"),
            "start": element.get("startPosition"),
            "end": element.get("endPosition"),
            "description": self.child_text(element, "Description"),
            **self.created(element),
            "codings": [self.coding(child) for child in self.all(element, "q:Coding")],
            "note_guids": self.references(element),
        }
        return self.build(QdaSelection, element, values)

    def text_source(self, element: etree._Element) -> QdaTextSource:
        values = {
            "guid": element.get("guid"),
            "name": element.get("name"),
            "description": self.child_text(element, "Description"),
            "text": self.plain_text(element),
            **self.created(element),
            "selections": [self.selection(child) for child in self.all(element, "q:PlainTextSelection")],
            "codings": [self.coding(child) for child in self.all(element, "q:Coding")],
            "note_guids": self.references(element),
        }
        return self.build(QdaTextSource, element, values)

    def note(self, element: etree._Element) -> QdaNote:
        values = {
            "guid": element.get("guid"),
            "name": element.get("name"),
            "description": self.child_text(element, "Description"),
            "text": self.plain_text(element),
            **self.created(element),
        }
        return self.build(QdaNote, element, values)

    @staticmethod
    def created(element: etree._Element) -> dict[str, str | None]:
        return {
            "creating_user": element.get("creatingUser"),
            "creation_time": element.get("creationDateTime"),
        }

    def plain_text(self, element: etree._Element) -> str | None:
        """The text inline in ``PlainTextContent``, or from the file ``plainTextPath`` names, if available."""
        inline = self.child_text(element, "PlainTextContent")
        if inline is not None:
            return inline
        path = element.get("plainTextPath")
        if path is None:
            return None
        label = f"line {element.sourceline}: {_local_name(element)} {element.get('guid')}"
        scheme, separator, location = path.partition("://")
        if not separator:
            return None
        if scheme.lower() == "internal":
            return self.archived_text(location, path, label)
        if scheme.lower() == "relative" and self.linked_files is not None:
            return self.linked_text(self.linked_files, location, path, label)
        return None  # a file outside what we were given: the text is not available

    def archived_text(self, location: str, path: str, label: str) -> str | None:
        if self.archive is None:
            return None  # a bare .qde carries no files
        member = f"sources/{location}"
        problem = unsafe_member_name(member)
        if problem:
            raise InterchangeError(self.where, f"{label}: plainTextPath {path!r} {problem}")
        data = self.archive.read(member)
        if data is None:
            raise InterchangeError(
                self.where, f"{label}: its text {path} is missing from the archive ({member})"
            )
        return _decode_text(data, f"{self.archive.where}/{member}")

    def linked_text(self, linked_files: Path, location: str, path: str, label: str) -> str:
        # ``relative:///x.txt`` (as ATLAS.ti writes it) is relative too: the leading slash is not a root.
        relative = location.lstrip("/")
        folder = linked_files.resolve()
        target = (folder / relative).resolve()
        problem = unsafe_member_name(relative) or (
            None if target.is_relative_to(folder) else "leads outside the linked-files folder"
        )
        if problem:
            raise InterchangeError(self.where, f"{label}: plainTextPath {path!r} {problem}")
        try:
            if target.stat().st_size > self.limits.max_total_bytes:
                raise InterchangeError(
                    str(target), f"larger than the limit of {self.limits.max_total_bytes} bytes"
                )
            data = target.read_bytes()
        except OSError as error:
            raise InterchangeError(
                self.where, f"{label}: its text {path} cannot be read from {target} ({error.strerror})"
            ) from error
        return _decode_text(data, str(target))


def _local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def _with_unlisted_users(project: QdaProject) -> QdaProject:
    """The project with creating users that are not among its Users set aside (the Project's own) or added
    as unnamed Users (everything else's): files from QualCoder and hand-made exports reference such GUIDs."""
    listed = {user.guid for user in project.users}
    update: dict[str, Any] = {}
    if project.creating_user is not None and project.creating_user not in listed:
        update = {"creating_user": None, "stray_creator": project.creating_user}
    selections = [selection for source in project.sources for selection in source.selections]
    creators = [
        *(note.creating_user for note in project.notes),
        *(source.creating_user for source in project.sources),
        *(selection.creating_user for selection in selections),
        *(coding.creating_user for source in project.sources for coding in source.codings),
        *(coding.creating_user for selection in selections for coding in selection.codings),
    ]
    unlisted = list(dict.fromkeys(guid for guid in creators if guid is not None and guid not in listed))
    if unlisted:
        update["unlisted_users"] = unlisted
        update["users"] = [*project.users, *(QdaUser(guid=guid) for guid in unlisted)]
    return project.model_copy(update=update) if update else project


def _decode_text(data: bytes, where: str) -> str:
    # The standard's text files are UTF-8. A BOM some programs prepend is not part of the text the offsets
    # count, so it goes; line endings stay exactly as shipped, because offsets count every "\r" too.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InterchangeError(where, f"the text is not valid UTF-8 (byte {error.start})") from error


# Checking


def check_project(project: QdaProject, where: str = "project") -> None:
    """Raise ``InterchangeError`` for the first duplicate GUID, unresolved reference or out-of-text span."""
    known = _KnownGuids(
        where=where,
        users=_unique_guids("User", ((user.guid, user.name or "") for user in project.users), where),
        codes=_unique_guids("Code", ((code.guid, code.name) for code, _ in walk_codes(project.codes)), where),
        notes=_unique_guids("Note", ((note.guid, note.name or "") for note in project.notes), where),
    )
    selections = [selection for source in project.sources for selection in source.selections]
    codings = [
        *(coding for source in project.sources for coding in source.codings),
        *(coding for selection in selections for coding in selection.codings),
    ]
    _unique_guids("TextSource", ((source.guid, source.name or "") for source in project.sources), where)
    _unique_guids(
        "PlainTextSelection", ((selection.guid, selection.name or "") for selection in selections), where
    )
    _unique_guids("Coding", ((coding.guid, "") for coding in codings), where)
    known.check_user(project.creating_user, "Project")
    known.check_notes(project.note_guids, "Project")
    for code, _parent in walk_codes(project.codes):
        known.check_notes(code.note_guids, f"Code {code.name!r} ({code.guid})")
    for note in project.notes:
        known.check_user(note.creating_user, f"Note {note.name!r} ({note.guid})")
    for source in project.sources:
        _check_source(source, known)


def _check_source(source: QdaTextSource, known: _KnownGuids) -> None:
    label = f"TextSource {source.name!r} ({source.guid})"
    known.check_user(source.creating_user, label)
    known.check_notes(source.note_guids, label)
    for coding in source.codings:
        known.check_coding(coding, label)
    for selection in source.selections:
        owner = f"{label}, PlainTextSelection {selection.guid}"
        if not 0 <= selection.start <= selection.end:
            raise InterchangeError(
                known.where,
                f"{owner}: startPosition {selection.start} and endPosition {selection.end} are not a span",
            )
        if source.text is not None and selection.end > len(source.text):
            raise InterchangeError(
                known.where,
                f"{owner}: endPosition {selection.end} lies beyond the end of the source text "
                f"({len(source.text)} characters)",
            )
        known.check_user(selection.creating_user, owner)
        known.check_notes(selection.note_guids, owner)
        for coding in selection.codings:
            known.check_coding(coding, owner)


@dataclass(frozen=True)
class _KnownGuids:
    where: str
    users: set[str]
    codes: set[str]
    notes: set[str]

    def check_user(self, guid: str | None, owner: str) -> None:
        if guid is not None and guid not in self.users:
            raise InterchangeError(self.where, f"{owner}: creatingUser {guid} is not a User of the project")

    def check_notes(self, guids: Iterable[str], owner: str) -> None:
        for guid in guids:
            if guid not in self.notes:
                raise InterchangeError(self.where, f"{owner}: NoteRef {guid} is not a Note of the project")

    def check_coding(self, coding: QdaCoding, owner: str) -> None:
        label = f"{owner}, Coding {coding.guid}"
        if coding.code_guid not in self.codes:
            raise InterchangeError(
                self.where, f"{label}: CodeRef {coding.code_guid} is not a Code of the codebook"
            )
        self.check_user(coding.creating_user, label)
        self.check_notes(coding.note_guids, label)


def _unique_guids(kind: str, items: Iterable[tuple[str, str]], where: str) -> set[str]:
    names: dict[str, str] = {}
    for guid, name in items:
        if guid in names:
            raise InterchangeError(where, f"two {kind}s share the GUID {guid} ({names[guid]!r} and {name!r})")
        names[guid] = name
    return set(names)


# Writing


def write_codebook(codebook: QdaCodebook) -> bytes:
    """The .qdc document of ``codebook``, valid against Codebook.xsd."""
    where = "codebook (.qdc)"
    _unique_guids("Code", ((code.guid, code.name) for code, _ in walk_codes(codebook.codes)), where)
    writer = _Writer(CODEBOOK_NAMESPACE, where)
    root = writer.root("CodeBook", {"origin": codebook.origin})
    codes = writer.add(root, "Codes")
    for code in codebook.codes:
        writer.code(codes, code)
    return writer.finish(root, "Codebook")


def write_project(project: QdaProject) -> bytes:
    """The .qdpx archive of ``project``: ``project.qde`` (valid against Project.xsd) and its source texts.

    The bytes depend only on the model (fixed member order, dates and compression), so writing what was
    read from a written project reproduces it exactly.
    """
    where = f"project {project.name!r}"
    check_project(project, where)
    texts: dict[str, bytes] = {}
    for source in project.sources:
        if source.text is None:
            raise InterchangeError(
                where,
                f"TextSource {source.name!r} ({source.guid}) has no text to ship: "
                "the file it was read from did not carry it",
            )
        texts[f"sources/{_source_file(source)}"] = source.text.encode("utf-8")
    writer = _Writer(PROJECT_NAMESPACE, where)
    return _pack_qdpx(writer.finish(writer.project(project), "Project"), texts)


def _source_file(source: QdaTextSource) -> str:
    return f"{source.guid}.txt"


def _format_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat()
    return text.removesuffix("+00:00") + "Z" if value.utcoffset() == timedelta(0) else text


class _Writer:
    """Builds the XML tree in the XSD's element order; attributes in a fixed order, absent ones left out."""

    def __init__(self, namespace: str, where: str) -> None:
        self.namespace = namespace
        self.where = where

    def root(self, name: str, attributes: dict[str, str | None]) -> etree._Element:
        root = etree.Element(f"{{{self.namespace}}}{name}", nsmap={None: self.namespace})
        self.set_attributes(root, attributes)
        return root

    def add(
        self,
        parent: etree._Element,
        name: str,
        attributes: dict[str, str | None] | None = None,
        text: str | None = None,
    ) -> etree._Element:
        element = etree.SubElement(parent, f"{{{self.namespace}}}{name}")
        self.set_attributes(element, attributes or {})
        if text is not None:
            try:
                element.text = text
            except ValueError as error:  # control characters XML 1.0 cannot carry
                raise InterchangeError(self.where, f"{name} of {parent.get('guid')}: {error}") from error
        return element

    def set_attributes(self, element: etree._Element, attributes: dict[str, str | None]) -> None:
        for key, value in attributes.items():
            if value is None:
                continue
            try:
                element.set(key, value)
            except ValueError as error:
                raise InterchangeError(
                    self.where, f"{_local_name(element)} {attributes.get('guid')}: {key}: {error}"
                ) from error

    def finish(self, root: etree._Element, schema: SchemaName) -> bytes:
        check_against_schema(root, schema, self.where)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def references(self, parent: etree._Element, guids: Iterable[str], name: str = "NoteRef") -> None:
        for guid in guids:
            self.add(parent, name, {"targetGUID": guid})

    def code(self, parent: etree._Element, code: QdaCode) -> None:
        attributes = {
            "guid": code.guid,
            "name": code.name,
            "isCodable": "true" if code.is_codable else "false",
            "color": code.color,
        }
        element = self.add(parent, "Code", attributes)
        if code.description is not None:
            self.add(element, "Description", text=code.description)
        if self.namespace == PROJECT_NAMESPACE:  # a .qdc code has no notes
            self.references(element, code.note_guids)
        for child in code.children:
            self.code(element, child)

    def project(self, project: QdaProject) -> etree._Element:
        root = self.root(
            "Project",
            {
                "name": project.name,
                "origin": project.origin,
                "creatingUserGUID": project.creating_user,
                "creationDateTime": _format_time(project.creation_time),
            },
        )
        if project.users:
            users = self.add(root, "Users")
            for user in project.users:
                self.add(users, "User", {"guid": user.guid, "name": user.name, "id": user.id})
        if project.codes:
            codes = self.add(self.add(root, "CodeBook"), "Codes")
            for code in project.codes:
                self.code(codes, code)
        if project.sources:
            sources = self.add(root, "Sources")
            for source in project.sources:
                self.text_source(sources, source)
        if project.notes:
            notes = self.add(root, "Notes")
            for note in project.notes:
                self.note(notes, note)
        if project.description is not None:
            self.add(root, "Description", text=project.description)
        self.references(root, project.note_guids)
        return root

    def text_source(self, parent: etree._Element, source: QdaTextSource) -> None:
        attributes = {
            "guid": source.guid,
            "name": source.name,
            "plainTextPath": f"internal://{_source_file(source)}",
            "creatingUser": source.creating_user,
            "creationDateTime": _format_time(source.creation_time),
        }
        element = self.add(parent, "TextSource", attributes)
        if source.description is not None:
            self.add(element, "Description", text=source.description)
        for selection in source.selections:
            self.selection(element, selection)
        for coding in source.codings:
            self.coding(element, coding)
        self.references(element, source.note_guids)

    def selection(self, parent: etree._Element, selection: QdaSelection) -> None:
        attributes = {
            "guid": selection.guid,
            "name": selection.name,
            "startPosition": str(selection.start),
            "endPosition": str(selection.end),
            "creatingUser": selection.creating_user,
            "creationDateTime": _format_time(selection.creation_time),
        }
        element = self.add(parent, "PlainTextSelection", attributes)
        if selection.description is not None:
            self.add(element, "Description", text=selection.description)
        for coding in selection.codings:
            self.coding(element, coding)
        self.references(element, selection.note_guids)

    def coding(self, parent: etree._Element, coding: QdaCoding) -> None:
        attributes = {
            "guid": coding.guid,
            "creatingUser": coding.creating_user,
            "creationDateTime": _format_time(coding.creation_time),
        }
        element = self.add(parent, "Coding", attributes)
        self.references(element, [coding.code_guid], "CodeRef")
        self.references(element, coding.note_guids)

    def note(self, parent: etree._Element, note: QdaNote) -> None:
        attributes = {
            "guid": note.guid,
            "name": note.name,
            "creatingUser": note.creating_user,
            "creationDateTime": _format_time(note.creation_time),
        }
        element = self.add(parent, "Note", attributes)
        if note.description is not None:
            self.add(element, "Description", text=note.description)
        if note.text is not None:
            self.add(element, "PlainTextContent", text=note.text)


def _pack_qdpx(project_xml: bytes, texts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [("project.qde", project_xml), *texts.items()]:
            info = zipfile.ZipInfo(name, date_time=_FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # the default depends on the platform; fixed, so are the bytes
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()
