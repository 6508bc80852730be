"""Hostile and broken input is refused with one clear InterchangeError naming the problem and where."""

from __future__ import annotations

import pytest

from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.refiqda import QdaSelection, read_codebook, read_project, write_project
from groundcode.interchange.safe_input import ArchiveLimits
from tests.interchange.support import (
    REZA,
    SARA,
    SOURCE,
    TRUST,
    TRUST_CODING,
    TRUST_SELECTION,
    members,
    persian_project,
    tampered,
    zip_of,
)

STRANGER = "00000000-0000-4000-8000-000000000001"
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>'
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + level)} "{("&" + chr(97 + level) + ";") * 10}">'.encode() for level in range(8)
    )
    + b']><Project xmlns="urn:QDA-XML:project:1.0" name="&i;"/>'
)
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE Project SYSTEM "http://127.0.0.1:9/project.dtd">'
    b'<Project xmlns="urn:QDA-XML:project:1.0" name="x"/>'
)


def _written() -> bytes:
    return write_project(persian_project())


def _with_members(**replacements: bytes) -> bytes:
    files = members(_written())
    files.update({name.replace("__", "/"): data for name, data in replacements.items()})
    return zip_of(files)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        pytest.param(XXE, r"^project: a DOCTYPE declaration .* is not allowed", id="external-entity"),
        pytest.param(LAUGHS, r"^project: a DOCTYPE declaration .* is not allowed", id="billion-laughs"),
        pytest.param(EXTERNAL_DTD, r"a DOCTYPE declaration .* is not allowed", id="external-dtd"),
        pytest.param(
            zip_of({"project.qde": XXE}), r"^project/project.qde: a DOCTYPE declaration", id="entity-in-qdpx"
        ),
        pytest.param(b"<Project", r"^project: not well-formed XML", id="not-xml"),
        pytest.param(b"PK\x03\x04 broken", r"not a readable .qdpx \(zip\) archive", id="not-a-zip"),
        pytest.param(
            zip_of({"notes.txt": b"x"}),
            r"expected exactly one .qde project file .* found none",
            id="no-project",
        ),
        pytest.param(
            zip_of({"project.qde": b"", "Project.QDE": b""}), r"'Project.QDE' appears twice", id="twice"
        ),
        pytest.param(
            zip_of({"project.qde": b"", "sources/big.txt": b"\0" * (4 << 20)}),
            r"member 'sources/big.txt' would unpack \d+ times larger .* zip bomb",
            id="zip-bomb-ratio",
        ),
        pytest.param(
            _with_members(**{"..__evil.txt": b"x"}), r"member '../evil.txt' climbs out", id="dot-dot"
        ),
        pytest.param(
            _with_members(**{"sources__..__..__evil.txt": b"x"}),
            r"member 'sources/../../evil.txt' climbs out",
            id="nested-dot-dot",
        ),
        pytest.param(
            _with_members(**{"__etc__evil.txt": b"x"}),
            r"member '/etc/evil.txt' is an absolute path",
            id="abs",
        ),
        pytest.param(
            zip_of({"project.qde": b"", "C:\\evil.txt": b"x"}), r"is an absolute path", id="windows-drive"
        ),
        pytest.param(
            zip_of({"project.qde": b"", "..\\evil.txt": b"x"}), r"climbs out", id="backslash-dot-dot"
        ),
        pytest.param(
            tampered(_written(), f"internal://{SOURCE}.txt", "internal://../../etc/passwd"),
            r"TextSource .*: plainTextPath 'internal://../../etc/passwd' climbs out",
            id="path-in-plainTextPath",
        ),
        pytest.param(
            zip_of({name: data for name, data in members(_written()).items() if name.startswith("project")}),
            rf"TextSource {SOURCE}: its text internal://{SOURCE}.txt is missing from the archive",
            id="missing-source-file",
        ),
        pytest.param(
            _with_members(**{f"sources__{SOURCE}.txt": b"\xff\xfe bad"}),
            rf"project/sources/{SOURCE}.txt: the text is not valid UTF-8",
            id="not-utf8",
        ),
        pytest.param(
            tampered(_written(), 'endPosition="58"', 'endPosition="5800"'),
            rf"PlainTextSelection {TRUST_SELECTION}: endPosition 5800 lies beyond the end of the source text "
            r"\(64 characters\)",
            id="offset-past-text",
        ),
        pytest.param(
            tampered(_written(), 'startPosition="41"', 'startPosition="60"'),
            r"startPosition 60 and endPosition 58 are not a span",
            id="inverted-span",
        ),
        pytest.param(
            tampered(_written(), f'<CodeRef targetGUID="{TRUST}"/>', f'<CodeRef targetGUID="{STRANGER}"/>'),
            rf"Coding {TRUST_CODING}: CodeRef {STRANGER} is not a Code of the codebook",
            id="unknown-code",
        ),
        pytest.param(
            tampered(_written(), f'<User guid="{REZA}"', f'<User guid="{SARA}"'),
            rf"two Users share the GUID {SARA}",
            id="duplicate-guid",
        ),
        pytest.param(
            tampered(_written(), 'startPosition="41"', 'startPosition="forty-one"'),
            r"project/project.qde: does not follow the REFI-QDA Project.xsd: line \d+: .*startPosition",
            id="schema-violation",
        ),
    ],
)
def test_hostile_or_broken_projects_are_refused(document: bytes, problem: str) -> None:
    with pytest.raises(InterchangeError, match=problem):
        read_project(document)


def test_archive_limits_on_members_and_total_size() -> None:
    written = _written()
    with pytest.raises(InterchangeError, match=r"the archive has 2 members, more than the limit of 1"):
        read_project(written, limits=ArchiveLimits(max_members=1))
    roomy = zip_of({"project.qde": b"", "sources/a.txt": b"\0" * (1 << 20)})
    with pytest.raises(
        InterchangeError, match=r"would unpack to 1048576 bytes, more than the limit of 100000"
    ):
        read_project(roomy, limits=ArchiveLimits(max_total_bytes=100_000))


def test_codebook_with_a_doctype_is_refused() -> None:
    with pytest.raises(InterchangeError, match=r"^book.qdc: a DOCTYPE declaration"):
        read_codebook(XXE.decode(), "book.qdc")


def test_a_broken_project_is_not_written() -> None:
    project = persian_project()
    (source,) = project.sources
    too_long = QdaSelection(guid=TRUST_SELECTION, start=0, end=len(source.text or "") + 1)
    broken = project.model_copy(update={"sources": [source.model_copy(update={"selections": [too_long]})]})
    with pytest.raises(InterchangeError, match="lies beyond the end of the source text"):
        write_project(broken)
