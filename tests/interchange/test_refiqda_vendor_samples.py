"""The vendor samples in shared/refi-qda import; what they hold is pinned here."""

from __future__ import annotations

from collections import Counter

from groundcode.interchange.refiqda import (
    QdaCodebook,
    QdaProject,
    read_codebook,
    read_project,
    walk_codes,
    write_codebook,
    write_project,
)
from groundcode.interchange.validate import validate_codebook
from tests.interchange.support import VENDOR_SAMPLES, members


def _counts(project: QdaProject) -> dict[str, int]:
    selections = [selection for source in project.sources for selection in source.selections]
    return {
        "users": len(project.users),
        "codes": len(list(walk_codes(project.codes))),
        "sources": len(project.sources),
        "selections": len(selections),
        "codings": sum(len(selection.codings) for selection in selections),
        "notes": len(project.notes),
    }


def test_nvivo_export_imports_and_survives_a_round_trip() -> None:
    project = read_project(VENDOR_SAMPLES / "nvivo_project.qdpx")
    assert _counts(project) == {
        "users": 2,
        "codes": 262,
        "sources": 2,
        "selections": 0,
        "codings": 0,
        "notes": 0,
    }
    assert project.origin == "NVivo for Mac 15.0.0"
    # NVivo shipped each source's plain text as a lone newline (the content is only in the .docx).
    assert [source.text for source in project.sources] == ["\n", "\n"]
    # Names repeat under different parents; the GUIDs keep them apart.
    names = Counter(code.name for code, _parent in walk_codes(project.codes))
    assert names["programming"] == 2 and names["citizenship"] == 3
    written = write_project(project)
    assert read_project(written) == project
    assert write_project(read_project(written)) == written
    assert set(members(written)) == {"project.qde", *(f"sources/{s.guid}.txt" for s in project.sources)}


def test_atlas_standard_project_imports_without_its_text_files() -> None:
    project = read_project(VENDOR_SAMPLES / "atlas-standard-project.qde")
    assert _counts(project) == {
        "users": 3,
        "codes": 14,
        "sources": 6,
        "selections": 6,
        "codings": 7,
        "notes": 2,
    }
    # A bare .qde: the internal:// text files it names are not part of it.
    assert all(source.text is None for source in project.sources)
    assert project.ignored == {
        "AudioSource": 1,
        "Graph": 1,
        "Link": 1,
        "PDFSource": 2,
        "PictureSource": 1,
        "Set": 16,
        "VideoSource": 2,
    }
    # GUIDs are upper case in the file and compared in lower case here.
    mabel = next(source for source in project.sources if source.name == "Mabel.txt")
    assert mabel.guid == "ec0a7242-65e1-457c-b7d1-310dae603fab"
    assert [coding.code_guid for coding in mabel.selections[0].codings] == [
        "f9c6eac0-8a66-4757-9d8a-9a6c8fea3c44",
        "ae6d04ce-d987-4fc8-af97-d72ca6ffd08f",
        "85d17f60-7bb0-481e-b742-b4861dd669df",
    ]
    assert project.notes[0].text == "This is a great project by a dynamic team of researcher-developers. "


def test_both_vendor_codebooks_export_as_valid_qdc() -> None:
    for sample in ("nvivo_project.qdpx", "atlas-standard-project.qde"):
        codes = read_project(VENDOR_SAMPLES / sample).codes
        written = write_codebook(QdaCodebook(origin="groundcode", codes=codes))
        validate_codebook(written)
        assert read_codebook(written).codes == codes
