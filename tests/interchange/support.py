"""A Persian interchange project to write, read and tamper with, and the vendor samples' location."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from groundcode.interchange.refiqda import (
    QdaCode,
    QdaCoding,
    QdaNote,
    QdaProject,
    QdaSelection,
    QdaTextSource,
    QdaUser,
    interchange_guid,
)

VENDOR_SAMPLES = Path(__file__).resolve().parent / "vendor_samples"  # copies of shared/refi-qda

# A ZWNJ (U+200C) inside "مصاحبه‌گر" and "مهم‌ترین", an emoji outside the BMP (two UTF-16 units, four UTF-8
# bytes, one code point) and a "\r\n" that offsets must count as two characters.
TEXT = "مصاحبه‌گر: شفافیت برای شما یعنی چه؟\r\nP1: اعتماد 😀 مهم‌ترین است.\n"
TRUST_QUOTE = "اعتماد 😀 مهم‌ترین"

SARA = interchange_guid("user", "sara")
REZA = interchange_guid("user", "reza")
SOURCE = interchange_guid("source", "interview-fa")
TRANSPARENCY = interchange_guid("code", "transparency")
TRUST = interchange_guid("code", "trust")
GOVERNANCE = interchange_guid("code", "governance")
TRUST_SELECTION = interchange_guid("selection", "trust")
TRUST_CODING = interchange_guid("coding", "trust")
PROVENANCE_NOTE = interchange_guid("note", "provenance")
WHEN = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def persian_project() -> QdaProject:
    """Two coders, a two-level codebook, one Persian source with two coded selections and three notes."""
    transparency_start = TEXT.index("شفافیت")
    trust_start = TEXT.index(TRUST_QUOTE)
    return QdaProject(
        name="مطالعه حکمرانی هوشمند",
        origin="groundcode",
        creating_user=SARA,
        creation_time=WHEN,
        description="Smart governance interviews",
        users=[QdaUser(guid=SARA, name="Sara", id="S"), QdaUser(guid=REZA, name="رضا")],
        codes=[
            QdaCode(
                guid=GOVERNANCE,
                name="حکمرانی",
                description="Governance in general",
                color="#1F77B4",
                children=[
                    QdaCode(guid=TRANSPARENCY, name="شفافیت", color="#abc"),
                    QdaCode(guid=TRUST, name="اعتماد", description="Trust in institutions"),
                ],
            )
        ],
        sources=[
            QdaTextSource(
                guid=SOURCE,
                name="interview_02_fa.txt",
                text=TEXT,
                creating_user=SARA,
                creation_time=WHEN,
                note_guids=[interchange_guid("note", "source")],
                selections=[
                    QdaSelection(
                        guid=interchange_guid("selection", "transparency"),
                        start=transparency_start,
                        end=transparency_start + len("شفافیت"),
                        creating_user=REZA,
                        codings=[
                            QdaCoding(
                                guid=interchange_guid("coding", "transparency"),
                                code_guid=TRANSPARENCY,
                                creating_user=REZA,
                                creation_time=datetime(2024, 5, 2, 9, 0, 0, 123456, tzinfo=UTC),
                            )
                        ],
                    ),
                    QdaSelection(
                        guid=TRUST_SELECTION,
                        name=TRUST_QUOTE,
                        start=trust_start,
                        end=trust_start + len(TRUST_QUOTE),
                        creating_user=SARA,
                        creation_time=WHEN,
                        codings=[QdaCoding(guid=TRUST_CODING, code_guid=TRUST, creating_user=SARA)],
                        note_guids=[PROVENANCE_NOTE],
                    ),
                ],
            )
        ],
        notes=[
            QdaNote(
                guid=interchange_guid("note", "project"), name="Research plan", text="Twenty interviews."
            ),
            QdaNote(guid=interchange_guid("note", "source"), name="یادداشت", text="مصاحبه در تهران"),
            QdaNote(
                guid=PROVENANCE_NOTE,
                name="groundcode suggestion",
                text="backend: offline\nconfidence: 0.82",
                creating_user=SARA,
            ),
        ],
        note_guids=[interchange_guid("note", "project")],
    )


def members(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        return {name: opened.read(name) for name in opened.namelist()}


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tampered(archive: bytes, old: str, new: str) -> bytes:
    """The archive with ``old`` replaced by ``new`` (exactly once) in its project.qde."""
    files = members(archive)
    xml = files["project.qde"].decode("utf-8")
    assert xml.count(old) == 1, f"{old!r} occurs {xml.count(old)} times"
    files["project.qde"] = xml.replace(old, new).encode("utf-8")
    return zip_of(files)
