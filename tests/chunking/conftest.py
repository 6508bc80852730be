"""Builders for test files in every format groundcode reads, generated in memory."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path

import docx
import fpdf
import pytest

PERSIAN_TURNS = (
    "مصاحبه‌گر: داده‌ها چطور بین سازمان‌ها منتقل می‌شود؟\n\n"
    "مصاحبه‌شونده: بیشتر با نامه. حدود ۳٫۵ درصد بودجه… برای فناوری است! آیا کافی است؟ نه.\n"
)
ENGLISH_TURNS = (
    "Interviewer: How is data shared between agencies?\n"
    "P1: Mostly by email. Dr. Smith said it costs 3.5 percent more, e.g. in permits.\n\n"
    "It is slow!? Yes.\n"
)


def build_docx(paragraphs: Sequence[tuple[str, str]], table: Sequence[Sequence[str]] = ()) -> bytes:
    """A .docx whose paragraphs are (bold prefix, rest) pairs, followed by an optional table."""
    document = docx.Document()
    for bold, rest in paragraphs:
        paragraph = document.add_paragraph()
        if bold:
            paragraph.add_run(bold).bold = True
        paragraph.add_run(rest)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def build_pdf(pages: Sequence[str]) -> bytes:
    """A PDF with a text layer (Latin-1 only: fpdf2 core fonts), one string per page."""
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, page)
    return bytes(pdf.output())


@pytest.fixture
def sample_files() -> dict[str, bytes]:
    """One small file per supported format, each with several speakers."""
    return {
        "interview.txt": (ENGLISH_TURNS + PERSIAN_TURNS).encode("utf-8"),
        "interview.md": b"# Interview\n\n**Interviewer:** Why?\n\n**Sara**: Budget.\n\n**Sara**: Trust.\n",
        "interview.docx": build_docx(
            [
                ("", "Project notes"),
                ("Interviewer:", " Why so slow?"),
                ("", ""),
                ("P1:", " Budget. And law."),
            ],
            table=[["Agency", "Data"], ["Fire department", "Inspections"]],
        ),
        "interview.pdf": build_pdf(
            ["Interviewer: Why?\nP1: Budget. And law.", "P1: Trust, e.g. between agencies."]
        ),
        "interview.vtt": (
            "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Interviewer>Why so slow?\n\n"
            "00:00:03.500 --> 00:00:06.000\n<v P1>Budget.\nAnd the law &amp; trust.\n\n"
            "00:00:06.000 --> 00:00:08.000\n<v P1>Also 👩🏽‍🔬 staff.\n"
        ).encode(),
        "interview.srt": (
            b"1\r\n00:00:01,000 --> 00:00:03,000\r\nInterviewer: Why?\r\n\r\n"
            b"2\r\n00:00:03,500 --> 00:00:06,000\r\nP1: Budget. And law.\r\n"
        ),
        "survey.csv": (
            "id,age,answer\n"
            'r1,34,"The portal is slow. Really slow."\n'
            "r2,51,\n"
            'r3,29,"خدمات خوب است؟ بله.\n\nولی کند است."\n'
        ).encode(),
    }


@pytest.fixture
def bundled_samples() -> dict[str, bytes]:
    """The sample transcripts shipped in groundcode/samples."""
    folder = Path(__file__).parents[2] / "groundcode" / "samples"
    return {path.name: path.read_bytes() for path in sorted(folder.glob("*.txt"))}


@pytest.fixture
def make_docx() -> Callable[..., bytes]:
    return build_docx


@pytest.fixture
def make_pdf() -> Callable[[Sequence[str]], bytes]:
    return build_pdf


@pytest.fixture
def image_only_pdf() -> bytes:
    """A PDF that draws a filled rectangle and no text, like a scan without OCR."""
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.rect(10, 10, 80, 50, style="F")
    return bytes(pdf.output())
