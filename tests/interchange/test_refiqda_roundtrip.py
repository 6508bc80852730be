"""Writing and reading REFI-QDA projects and codebooks: schema-valid, byte-stable, offsets in code points."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.refiqda import (
    QdaCodebook,
    QdaTextSource,
    interchange_guid,
    local_id,
    normalize_guid,
    read_codebook,
    read_project,
    write_codebook,
    write_project,
)
from groundcode.interchange.validate import validate_codebook, validate_project
from tests.interchange.support import (
    SOURCE,
    TEXT,
    TRUST_CODING,
    TRUST_QUOTE,
    TRUST_SELECTION,
    members,
    persian_project,
    tampered,
    zip_of,
)


def test_written_project_and_codebook_validate_against_the_xsds() -> None:
    project = persian_project()
    validate_project(members(write_project(project))["project.qde"])
    validate_codebook(write_codebook(QdaCodebook(origin="groundcode", codes=project.codes)))


def test_write_read_write_is_byte_identical_and_keeps_every_field() -> None:
    written = write_project(persian_project())
    read = read_project(written)
    assert read == persian_project()
    assert write_project(read) == written


def test_codebook_round_trip() -> None:
    codebook = QdaCodebook(origin="groundcode", codes=persian_project().codes)
    written = write_codebook(codebook)
    assert read_codebook(written) == codebook
    assert write_codebook(read_codebook(written)) == written


def test_persian_offsets_are_code_points_into_the_shipped_utf8_text() -> None:
    archive = write_project(persian_project())
    shipped = members(archive)[f"sources/{SOURCE}.txt"]
    assert shipped == TEXT.encode("utf-8")  # UTF-8, no BOM, "\r\n" kept
    (source,) = read_project(archive).sources
    trust = next(selection for selection in source.selections if selection.guid == TRUST_SELECTION)
    assert source.text is not None and source.text[trust.start : trust.end] == TRUST_QUOTE
    assert "\u200c" in TRUST_QUOTE and "😀" in TRUST_QUOTE
    # Past the emoji, code points, UTF-16 units and UTF-8 bytes all differ: the offsets are code points.
    assert trust.end == len(TEXT[: trust.end])
    assert trust.end != len(TEXT[: trust.end].encode("utf-16-le")) // 2
    assert trust.end != len(TEXT[: trust.end].encode("utf-8"))


def test_guids_are_derived_stable_and_compared_case_insensitively() -> None:
    assert interchange_guid("code", "c1") == interchange_guid("code", "c1")
    assert interchange_guid("code", "c1") != interchange_guid("source", "c1")
    assert normalize_guid("{0F8A1907-7E42-4739-8610-A676B4D1B69F}") == "0f8a1907-7e42-4739-8610-a676b4d1b69f"
    upper = f"{{{TRUST_CODING.upper()}}}"
    assert read_project(tampered(write_project(persian_project()), TRUST_CODING, upper)) == persian_project()
    with pytest.raises(ValueError, match="is not a GUID"):
        normalize_guid("{0F8A1907-7E42-4739-8610-A676B4D1B69F")


def test_guids_of_uuid_ids_are_reversible_per_scope() -> None:
    code_id = str(uuid.uuid4())
    guid = interchange_guid("code", code_id, "project-1")
    assert local_id("code", guid, "project-1") == code_id
    assert local_id("code", guid.upper(), "project-1") == code_id
    assert local_id("code", guid, "project-2") != code_id  # another project: another id for the same GUID
    assert guid not in (code_id, interchange_guid("source", code_id, "project-1"))
    assert uuid.UUID(guid).version == 4  # version and variant bits are kept
    assert local_id("code", interchange_guid("code", "C1"), "") != "C1"  # other ids only go one way


def test_inline_plain_text_and_a_bom_are_read() -> None:
    files = members(write_project(persian_project()))
    files[f"sources/{SOURCE}.txt"] = b"\xef\xbb\xbf" + TEXT.encode("utf-8")
    assert read_project(zip_of(files)).sources[0].text == TEXT
    xml = files["project.qde"].replace(f' plainTextPath="internal://{SOURCE}.txt"'.encode(), b"")
    content = b"<PlainTextContent>" + TEXT.encode("utf-8") + b"</PlainTextContent>"
    inline = xml.replace(b"<PlainTextSelection", content + b"<PlainTextSelection", 1)
    # An XML parser reads a "\r\n" as "\n": inline text cannot carry one, a shipped .txt file can.
    assert read_project(inline).sources[0].text == TEXT.replace("\r\n", "\n")


def test_a_bare_qde_carries_no_linked_texts_and_cannot_be_written_as_qdpx() -> None:
    bare = members(write_project(persian_project()))["project.qde"]
    project = read_project(bare)
    assert [source.text for source in project.sources] == [None]
    with pytest.raises(InterchangeError, match=r"TextSource 'interview_02_fa.txt' .* has no text to ship"):
        write_project(project)


def test_relative_paths_are_read_only_inside_the_named_folder(tmp_path: Path) -> None:
    linked = tmp_path / "linked"
    (linked / "texts").mkdir(parents=True)
    (linked / "texts" / "fa.txt").write_text(TEXT, encoding="utf-8", newline="")
    xml = members(write_project(persian_project()))["project.qde"]
    relative = xml.replace(f"internal://{SOURCE}.txt".encode(), b"relative:///texts/fa.txt")
    assert read_project(relative).sources[0].text is None
    assert read_project(relative, linked_files=linked).sources[0].text == TEXT
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    escaping = xml.replace(f"internal://{SOURCE}.txt".encode(), b"relative://../secret.txt")
    with pytest.raises(InterchangeError, match=r"plainTextPath 'relative://../secret.txt' climbs out"):
        read_project(escaping, linked_files=linked)
    missing = xml.replace(f"internal://{SOURCE}.txt".encode(), b"relative://texts/gone.txt")
    with pytest.raises(InterchangeError, match=r"its text relative://texts/gone.txt cannot be read"):
        read_project(missing, linked_files=linked)


def test_a_project_file_is_read_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "study.qdpx"
    path.write_bytes(write_project(persian_project()))
    assert read_project(path) == persian_project()
    with pytest.raises(InterchangeError, match=r"absent.qdpx: cannot be read"):
        read_project(tmp_path / "absent.qdpx")


def test_sources_without_selections_and_projects_without_codes_are_valid() -> None:
    project = persian_project().model_copy(
        update={"codes": [], "notes": [], "note_guids": [], "sources": [QdaTextSource(guid=SOURCE, text="")]}
    )
    assert read_project(write_project(project)) == project
