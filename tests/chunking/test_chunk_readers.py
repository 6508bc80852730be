"""Reading every supported format, decoding text files, and refusing bad input clearly."""

from __future__ import annotations

import codecs
import io
import pickle
import random
from collections.abc import Callable

import pypdf
import pytest

from services.chunking.errors import UnreadableFileError
from services.chunking.readers import ExtractedDocument, read_document

LIMIT = 1_000_000
# A Persian paragraph as an old Windows-1256 export writes it: Arabic yeh (ي) and kaf (ك),
# because cp1256 has no Persian yeh; the half-space (ZWNJ) exists in cp1256.
PERSIAN_CP1256 = (
    "مصاحبه‌شونده: زيرساخت فناوري اطلاعات در شهرداري هنوز ضعيف است؛ "
    "تبادل داده بين سازمان‌ها با نامه انجام مي‌شود و اعتماد كم است. چرا؟ بودجه!"
)
# Random bytes without NUL: not UTF-8, and no legacy encoding makes sense of them.
NOISE = bytes(byte or 1 for byte in random.Random(7).randbytes(600))


def read(name: str, data: bytes, **options: str) -> ExtractedDocument:
    return read_document(name, data, max_bytes=LIMIT, **options)


def block_texts(doc: ExtractedDocument) -> list[str]:
    return [doc.text[block.start : block.end] for block in doc.blocks]


# --- plain text and decoding ---------------------------------------------------------------


def test_text_is_kept_exactly_apart_from_line_endings() -> None:
    text = "Café e\u0301té 👩🏽‍🔬 مي‌شود\r\n\r\n  indented\rlast  "
    doc = read("notes.TXT", text.encode("utf-8"))
    assert doc.text == "Café e\u0301té 👩🏽‍🔬 مي‌شود\n\n  indented\nlast  "
    assert (doc.format, doc.encoding, doc.blocks) == ("txt", "utf-8", [])


def test_markdown_is_kept_as_written() -> None:
    text = "# Interview\n\n**Interviewer:** Why?\n"
    doc = read("interview.md", text.encode("utf-8"))
    assert (doc.text, doc.format) == (text, "md")


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_mark_selects_the_encoding_and_is_removed(bom: bytes, codec: str) -> None:
    text = "Interviewer: سلام 👋\r\nP1: hi"
    doc = read("a.txt", bom + text.encode(codec))
    assert doc.text == "Interviewer: سلام 👋\nP1: hi"
    assert doc.encoding == codec


def test_windows_1256_persian_reads_back_identical() -> None:
    doc = read("legacy.txt", PERSIAN_CP1256.encode("cp1256"))
    assert doc.encoding == "cp1256"
    assert doc.text == PERSIAN_CP1256


def test_utf8_wins_over_legacy_encodings() -> None:
    assert read("a.txt", PERSIAN_CP1256.encode("utf-8")).encoding == "utf-8"


# --- docx ----------------------------------------------------------------------------------


def test_docx_paragraphs_tables_and_bold_speaker_labels(make_docx: Callable[..., bytes]) -> None:
    data = make_docx(
        [
            ("", "Interview 4, recorded at the town hall"),
            ("Interviewer:", " Which agencies share data?"),
            ("", ""),
            ("", "Follow-up: and how?"),
            ("Maryam", ": The fire department, by email."),
            ("Background:", " a bold heading, used once"),
            ("Maryam:", " And the registry."),
        ],
        table=[["Agency", "Data"], ["Land registry", "Parcels"]],
    )
    doc = read("interview.docx", data)
    assert doc.format == "docx"
    assert doc.text == (
        "Interview 4, recorded at the town hall\n"
        "Interviewer: Which agencies share data?\n"
        "\n"
        "Follow-up: and how?\n"
        "Maryam: The fire department, by email.\n"
        "Background: a bold heading, used once\n"
        "Maryam: And the registry.\n"
        "Agency\tData\n"
        "Land registry\tParcels"
    )
    assert [(block.kind, block.speaker) for block in doc.blocks] == [
        ("turn", None),
        ("turn", "Interviewer"),
        ("turn", "Maryam"),
        ("turn", "Maryam"),
    ]
    texts = block_texts(doc)
    assert texts[1] == "Which agencies share data?\n\nFollow-up: and how?\n"
    assert texts[2] == "The fire department, by email.\nBackground: a bold heading, used once\n"
    assert texts[3] == "And the registry.\nAgency\tData\nLand registry\tParcels"


def test_docx_without_bold_labels_has_no_blocks(make_docx: Callable[..., bytes]) -> None:
    doc = read("plain.docx", make_docx([("", "Interviewer: Why?"), ("", "P1: Budget.")]))
    assert doc.text == "Interviewer: Why?\nP1: Budget."
    assert doc.blocks == []


def test_bold_sentence_is_not_a_speaker(make_docx: Callable[..., bytes]) -> None:
    doc = read("emphasis.docx", make_docx([("this is a long emphasised phrase of many words:", " rest")]))
    assert doc.blocks == []


# --- pdf -----------------------------------------------------------------------------------


def test_pdf_text_layer_is_extracted(make_pdf: Callable[[list[str]], bytes]) -> None:
    doc = read("interview.pdf", make_pdf(["Interviewer: Why?\nP1: Budget, e.g. law.", "P1: Trust."]))
    assert doc.format == "pdf"
    assert "Interviewer: Why?" in doc.text
    assert "P1: Trust." in doc.text
    assert doc.text.index("Budget") < doc.text.index("Trust")


def test_pdf_with_an_empty_user_password_opens(make_pdf: Callable[[list[str]], bytes]) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["P1: Open to all."]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert "Open to all." in read("open.pdf", buffer.getvalue()).text


# --- subtitles -----------------------------------------------------------------------------


def test_vtt_cues_become_blocks_with_voice_and_times() -> None:
    vtt = (
        "WEBVTT\n\nNOTE exported from the meeting tool\n\n"
        "1\n00:00:01.000 --> 00:00:04.000\n<v Dr. Smith>Data &amp; <b>trust</b>.\nSecond line\n\n"
        "00:00:05.000 --> 00:00:07.500\n<v P1>Yes 👩🏽‍🔬\n"
    )
    doc = read("call.vtt", vtt.encode("utf-8"))
    assert doc.text == "Data & trust.\nSecond line\n\nYes 👩🏽‍🔬"
    assert [(block.kind, block.speaker, block.metadata) for block in doc.blocks] == [
        ("cue", "Dr. Smith", {"start": "00:00:01.000", "end": "00:00:04.000"}),
        ("cue", "P1", {"start": "00:00:05.000", "end": "00:00:07.500"}),
    ]


def test_srt_name_prefix_names_the_speaker_and_stays_in_the_text() -> None:
    srt = (
        "1\r\n00:00:01,000 --> 00:00:03,000\r\nInterviewer: Why?\r\n\r\n"
        "2\r\n00:00:03,500 --> 00:00:06,000\r\nMaryam: Budget.\r\n\r\n"
        "3\r\n00:00:06,500 --> 00:00:08,000\r\nMaryam: And law.\r\n\r\n"
        "4\r\n00:00:08,500 --> 00:00:09,000\r\nNote: inaudible\r\n"
    )
    doc = read("call.srt", srt.encode("utf-8"))
    assert doc.text == "Interviewer: Why?\n\nMaryam: Budget.\n\nMaryam: And law.\n\nNote: inaudible"
    assert [block.speaker for block in doc.blocks] == ["Interviewer", "Maryam", "Maryam", None]
    assert block_texts(doc) == ["Why?", "Budget.", "And law.", "Note: inaudible"]
    assert doc.blocks[0].metadata == {"start": "00:00:01.000", "end": "00:00:03.000"}


# --- csv -----------------------------------------------------------------------------------


def test_csv_answers_become_response_blocks() -> None:
    data = (
        b"Respondent;Age;Answer\r\n"
        b'r1;34;"Slow portal; no feedback."\r\n'
        b"r2;51;\r\n"
        b'r3;29;"Good.\r\n\r\nBut slow."\r\n'
    )
    doc = read("survey.csv", data)
    assert doc.text == "Slow portal; no feedback.\n\nGood.\n\nBut slow."
    assert [(block.kind, block.speaker, block.metadata) for block in doc.blocks] == [
        ("response", "r1", {"row": 1, "Age": "34"}),
        ("response", "r3", {"row": 3, "Age": "29"}),
    ]
    assert block_texts(doc) == ["Slow portal; no feedback.", "Good.\n\nBut slow."]


def test_csv_named_columns_and_single_column() -> None:
    data = b"code,comment_text,who\nA,Too slow,x1\nB,Fine,x2\n"
    doc = read("s.csv", data, csv_column="Comment_Text", csv_id_column="who")
    assert (doc.text, [block.speaker for block in doc.blocks]) == ("Too slow\n\nFine", ["x1", "x2"])
    assert doc.blocks[0].metadata == {"row": 1, "code": "A"}
    assert read("one.csv", b"feedback\nok\n\nnice\n").text == "ok\n\nnice"


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.txt", b"", "the file is empty"),
        ("blank.txt", b" \r\n\t\n ", "no text"),
        ("blank.md", "\ufeff\n".encode(), "no text"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        ("noise.txt", NOISE, "text encoding"),
        ("broken.txt", codecs.BOM_UTF16_LE + b"a\x00b", "not valid UTF-16-LE"),
        ("slides.pptx", b"PK\x03\x04", "unsupported file type '.pptx'; groundcode reads .txt, .md, .docx"),
        ("README", b"text", "unsupported file type '(no extension)'"),
        ("report.docx", b"this is not a zip", "not a valid Word"),
        ("report.pdf", b"%PDF-1.4 garbage", "damaged or not a PDF"),
        ("call.vtt", b"this is not webvtt\n", "not a valid .vtt subtitle file"),
        ("survey.csv", b"age,answer,city\n3,,x\n", "has no answers"),
        (
            "survey.csv",
            b"age,city\n3,x\n",
            "cannot tell which column holds the answers; name one of: age, city",
        ),
        ("survey.csv", b"id,answer\nr1,a,b\n", "row 1 has 3 cells but the header has 2 columns"),
    ],
)
def test_bad_input_is_refused_with_a_reason(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read(name, data)
    assert caught.value.filename == name
    assert str(caught.value).startswith(f"{name}: ")
    assert problem in str(caught.value)


def test_missing_csv_column_lists_the_columns() -> None:
    with pytest.raises(UnreadableFileError, match=r"no answer column 'reply'; the columns are: id, answer"):
        read("survey.csv", b"id,answer\nr1,ok\n", csv_column="reply")
    with pytest.raises(UnreadableFileError, match=r"no respondent id column 'who'"):
        read("survey.csv", b"id,answer\nr1,ok\n", csv_id_column="who")


def test_image_only_pdf_asks_for_ocr(image_only_pdf: bytes) -> None:
    with pytest.raises(UnreadableFileError) as caught:
        read("interview3.pdf", image_only_pdf)
    assert str(caught.value) == "interview3.pdf: the PDF has no text layer (image-only scan?); run OCR first"


def test_password_protected_pdf_is_refused(make_pdf: Callable[[list[str]], bytes]) -> None:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(make_pdf(["Secret."]))))
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(UnreadableFileError, match="password-protected"):
        read("locked.pdf", buffer.getvalue())


def test_file_over_the_limit_names_size_and_limit() -> None:
    with pytest.raises(UnreadableFileError, match=r"the file is 2\.5 MB, over the 2 MB import limit"):
        read_document("big.txt", b"a" * (5 * 1024 * 512), max_bytes=2 * 1024 * 1024)


def test_error_survives_pickling() -> None:
    error = pickle.loads(pickle.dumps(UnreadableFileError("a.pdf", "broken")))
    assert (error.filename, error.problem, str(error)) == ("a.pdf", "broken", "a.pdf: broken")
