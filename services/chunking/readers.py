"""Turn an uploaded file's bytes into one text string plus the structure the format itself gives.

All offsets (in ``Block`` and later in segments) are code-point indexes into
``ExtractedDocument.text``. Line endings are normalised to "\\n" right after decoding, before
any offset exists; nothing else in the text is changed (no Unicode normalisation, no trimming).
"""

from __future__ import annotations

import codecs
import csv
import functools
import html
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import PurePath
from typing import Any, Literal

import charset_normalizer
import docx
import pypdf
import webvtt
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from pydantic import BaseModel, ConfigDict, Field

from groundcode.interchange.safe_input import ArchiveLimits, UnsafeArchiveError, check_members
from groundcode.textsafety import control_character_problem
from services.chunking.errors import UnreadableFileError
from services.chunking.language import detect_language
from services.chunking.speakers import (
    Label,
    drop_one_off_names,
    find_labels,
    is_plausible_label,
    turns_from_labels,
)

BlockKind = Literal["turn", "response", "cue", "paragraph"]


class Block(BaseModel):
    """A stretch of the text whose boundaries the file format gave (a CSV row, a subtitle cue, ...)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    kind: BlockKind
    speaker: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class ExtractedDocument(BaseModel):
    """The text of one file and the structure its format carried."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    format: str
    encoding: str | None = None
    # When present, blocks cover all the text that belongs in segments, in order; what lies
    # between them (speaker labels, separators) does not. Empty: the text has no given structure.
    blocks: list[Block] = Field(default_factory=list)


_BYTE_ORDER_MARKS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# A .docx is a zip archive: refused by its directory before python-docx unpacks anything. Media are
# stored, not compressed, so the total follows the upload limit; document.xml of a long transcript is a
# few MB.
DOCX_LIMITS = ArchiveLimits(max_members=2_000, max_total_bytes=256 << 20, max_member_bytes=64 << 20)
_ANSWER_COLUMNS = ("text", "response", "answer", "comment")
_ID_COLUMNS = ("id", "respondent", "respondent_id", "participant", "participant_id")


def _normalize_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _human_size(size: int) -> str:
    for unit, scale in (("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def _first_stray_line(data: bytes) -> int | None:
    """The first line that is not UTF-8 in a file whose other non-ASCII lines mostly are (mixed encodings,
    e.g. one line pasted from a Latin-1 file), else None: the file is then in one legacy encoding."""
    utf8_lines = 0
    stray_lines = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            stray_lines.append(number)
        else:
            utf8_lines += 1
    return stray_lines[0] if stray_lines and utf8_lines >= len(stray_lines) else None


def _decode_legacy(data: bytes) -> tuple[str, str] | None:
    """Decode a file that is not UTF: Windows-Arabic if that reads as Arabic script, else whatever
    charset-normalizer finds. charset-normalizer alone misreads cp1256 Persian (as cp949 or nothing)."""
    try:
        arabic = data.decode("cp1256")
        if detect_language(arabic) in ("fa", "ar") and control_character_problem(arabic) is None:
            return arabic, "cp1256"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        return None
    try:
        text = data.decode(best.encoding)  # strict: never replace characters
    except (UnicodeDecodeError, LookupError):
        return None
    return (text, best.encoding) if control_character_problem(text) is None else None


def decode_text(filename: str, data: bytes) -> tuple[str, str]:
    """Decode a text file; return (text with "\\n" line endings and no BOM, encoding name)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            try:
                text = data[len(mark) :].decode(encoding)
            except UnicodeDecodeError as error:
                name = encoding.upper()
                raise UnreadableFileError(
                    filename, f"the file says it is {name} but is not valid {name}"
                ) from error
            return _normalize_newlines(text), encoding
    if b"\x00" in data:
        raise UnreadableFileError(
            filename,
            "this looks like a binary file, not text (it contains NUL bytes); "
            "if it is UTF-16 text, save it again as UTF-8",
        )
    try:
        return _normalize_newlines(data.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    stray_line = _first_stray_line(data)
    if stray_line is not None:
        raise UnreadableFileError(
            filename,
            f"line {stray_line} is not UTF-8 although the rest of the file is (mixed encodings, e.g. text "
            "pasted from another program); save the whole file as UTF-8 and import it again",
        )
    legacy = _decode_legacy(data)
    if legacy is None:
        raise UnreadableFileError(
            filename, "could not work out the text encoding; save the file as UTF-8 and import it again"
        )
    return _normalize_newlines(legacy[0]), legacy[1]


class _TextBuilder:
    """Joins pieces of text with a separator and remembers where each piece landed."""

    def __init__(self, separator: str) -> None:
        self._separator = separator
        self._parts: list[str] = []
        self._length = 0

    def add(self, piece: str) -> tuple[int, int]:
        if self._parts:
            self._parts.append(self._separator)
            self._length += len(self._separator)
        piece = _normalize_newlines(piece)
        self._parts.append(piece)
        start, self._length = self._length, self._length + len(piece)
        return start, self._length

    def text(self) -> str:
        return "".join(self._parts)


def _read_plain(filename: str, data: bytes, format_name: str) -> ExtractedDocument:
    text, encoding = decode_text(filename, data)
    return ExtractedDocument(text=text, format=format_name, encoding=encoding)


# --- docx ---------------------------------------------------------------------------------


def _bold_label(text: str, paragraph: Paragraph) -> tuple[str, int] | None:
    """(speaker, offset where the speech starts) if the paragraph opens with a bold "Name:"."""
    bold = ""
    for item in paragraph.iter_inner_content():
        if not (isinstance(item, Run) and item.bold):
            break
        bold += _normalize_newlines(item.text)
    stripped = bold.rstrip()
    if stripped.endswith(":"):
        speaker, label_end = stripped[:-1].strip(), len(bold)
    elif bold and text[len(bold) :].startswith(":"):  # **Name**: with the colon not bold
        speaker, label_end = bold.strip(), len(bold) + 1
    else:
        return None
    if "\n" in speaker or not is_plausible_label(speaker):
        return None
    return speaker, len(text) - len(text[label_end:].lstrip(" \t"))


def _table_rows(table: Table) -> Iterable[str]:
    for row in table.rows:
        cells = row.cells  # a merged cell is repeated once per grid column it spans: keep one
        yield "\t".join(
            cell.text for index, cell in enumerate(cells) if index == 0 or cell != cells[index - 1]
        )


def _read_docx(filename: str, data: bytes) -> ExtractedDocument:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_members(archive.infolist(), DOCX_LIMITS)
        document = docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile as error:
        raise UnreadableFileError(
            filename, "this is not a valid Word (.docx) file (not a zip archive)"
        ) from error
    except UnsafeArchiveError as error:
        raise UnreadableFileError(filename, str(error)) from error
    except Exception as error:  # python-docx raises assorted KeyError/ValueError/XML errors on damage
        raise UnreadableFileError(filename, f"this Word (.docx) file is damaged ({error})") from error

    builder = _TextBuilder("\n")
    labels: list[Label] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in _table_rows(item):
                builder.add(row)
            continue
        text = _normalize_newlines(item.text)
        start, _ = builder.add(text)
        label = _bold_label(text, item)
        if label is not None:
            speaker, speech_start = label
            labels.append(Label(start, start + speech_start, speaker, None))

    text = builder.text()
    labels = drop_one_off_names(labels)  # a bold "Background:" heading is not a speaker
    # Without bold labels the document has no given structure: labels are then looked for in the text.
    turns = turns_from_labels(text, labels) if labels else []
    blocks = [Block(start=turn.start, end=turn.end, kind="turn", speaker=turn.speaker) for turn in turns]
    return ExtractedDocument(text=text, format="docx", blocks=blocks)


# --- pdf ----------------------------------------------------------------------------------


def _read_pdf(filename: str, data: bytes) -> ExtractedDocument:
    builder = _TextBuilder("\n")  # not a blank line: page breaks usually fall inside a paragraph
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")  # many PDFs are encrypted with an empty password and open freely
        for page in reader.pages:
            builder.add(page.extract_text())
    except (pypdf.errors.FileNotDecryptedError, pypdf.errors.DependencyError) as error:
        raise UnreadableFileError(
            filename, "the PDF is password-protected; save an unprotected copy and import that"
        ) from error
    except Exception as error:  # damaged files raise PdfReadError, KeyError, struct.error, ...
        raise UnreadableFileError(filename, f"this PDF is damaged or not a PDF ({error})") from error
    text = builder.text()
    if not text.strip():
        raise UnreadableFileError(filename, "the PDF has no text layer (image-only scan?); run OCR first")
    return ExtractedDocument(text=text, format="pdf")


# --- subtitles ----------------------------------------------------------------------------


def _read_captions(filename: str, data: bytes, format_name: Literal["vtt", "srt"]) -> ExtractedDocument:
    text, encoding = decode_text(filename, data)
    try:
        captions = webvtt.from_buffer(io.StringIO(text.strip()), format=format_name).captions
    except Exception as error:  # webvtt-py raises MalformedFileError, MalformedCaptionError, ValueError
        raise UnreadableFileError(
            filename, f"this is not a valid .{format_name} subtitle file ({error})"
        ) from error

    # One cue per paragraph. VTT cue text is HTML-escaped (&amp;); SRT text is literal.
    builder = _TextBuilder("\n\n")
    cues: list[tuple[int, int, Any]] = []
    for caption in captions:
        cue_text = html.unescape(caption.text) if format_name == "vtt" else caption.text
        if cue_text.strip():
            cues.append((*builder.add(cue_text), caption))
    text = builder.text()

    # "Name: ..." at the start of a cue names the speaker, by the same rules as plain text.
    labels = {label.line_start: label for label in find_labels(text)}
    blocks = []
    for start, end, caption in cues:
        label = labels.get(start)
        speaker = caption.voice or (label.speaker if label else None)
        blocks.append(
            Block(
                start=label.end if label and not caption.voice else start,
                end=end,
                kind="cue",
                speaker=speaker,
                metadata={"start": caption.start, "end": caption.end},
            )
        )
    return ExtractedDocument(text=text, format=format_name, encoding=encoding, blocks=blocks)


# --- csv ----------------------------------------------------------------------------------


def _find_column(
    filename: str, header: Sequence[str], wanted: str | None, defaults: Sequence[str], role: str
) -> int | None:
    """Index of the column named ``wanted`` (case-insensitive), else of the first default name found."""
    folded = [name.strip().casefold() for name in header]
    if wanted is not None:
        if wanted.strip().casefold() not in folded:
            raise UnreadableFileError(
                filename, f"there is no {role} column {wanted!r}; the columns are: {', '.join(header)}"
            )
        return folded.index(wanted.strip().casefold())
    return next((folded.index(name) for name in defaults if name in folded), None)


def _answer_column(filename: str, header: Sequence[str], wanted: str | None) -> int:
    column = _find_column(filename, header, wanted, _ANSWER_COLUMNS, "answer")
    if column is not None:
        return column
    if len(header) == 1:
        return 0
    raise UnreadableFileError(
        filename,
        f"cannot tell which column holds the answers; name one of: {', '.join(header)} "
        f"(or call it {', '.join(_ANSWER_COLUMNS)})",
    )


def _csv_rows(filename: str, text: str) -> list[list[str]]:
    # The delimiter is the one the header line uses most: spreadsheets in many locales save ';'.
    header_line = text.partition("\n")[0]
    delimiter = max(",;\t", key=header_line.count)
    try:
        return list(csv.reader(io.StringIO(text), delimiter=delimiter))
    except csv.Error as error:
        raise UnreadableFileError(filename, f"this CSV file is malformed ({error})") from error


def _read_csv(filename: str, data: bytes, answer: str | None, respondent: str | None) -> ExtractedDocument:
    text, encoding = decode_text(filename, data)
    rows = _csv_rows(filename, text)
    if not rows or not any(name.strip() for name in rows[0]):
        raise UnreadableFileError(filename, "the CSV file needs a header row naming its columns")
    header = [name.strip() for name in rows[0]]
    answer_index = _answer_column(filename, header, answer)
    id_index = _find_column(filename, header, respondent, _ID_COLUMNS, "respondent id")

    builder = _TextBuilder("\n\n")
    blocks = []
    for row_number, row in enumerate(rows[1:], start=1):
        if len(row) > len(header):
            raise UnreadableFileError(
                filename,
                f"row {row_number} has {len(row)} cells but the header has {len(header)} columns "
                "(an unquoted comma or semicolon in an answer?)",
            )
        cells = row + [""] * (len(header) - len(row))
        if not cells[answer_index].strip():
            continue
        start, end = builder.add(cells[answer_index])
        others = {
            name: value
            for index, (name, value) in enumerate(zip(header, cells, strict=True))
            if index not in (answer_index, id_index)
        }
        speaker = cells[id_index].strip() if id_index is not None else ""
        blocks.append(
            Block(
                start=start,
                end=end,
                kind="response",
                speaker=speaker or None,
                metadata={"row": row_number, **others},
            )
        )
    if not blocks:
        raise UnreadableFileError(filename, f"the column {header[answer_index]!r} has no answers")
    return ExtractedDocument(text=builder.text(), format="csv", encoding=encoding, blocks=blocks)


# --- entry point --------------------------------------------------------------------------

_Reader = Callable[[str, bytes], ExtractedDocument]
_READERS: dict[str, _Reader] = {
    ".txt": functools.partial(_read_plain, format_name="txt"),
    ".md": functools.partial(_read_plain, format_name="md"),
    ".docx": _read_docx,
    ".pdf": _read_pdf,
    ".vtt": functools.partial(_read_captions, format_name="vtt"),
    ".srt": functools.partial(_read_captions, format_name="srt"),
}
SUPPORTED_EXTENSIONS = (*_READERS, ".csv")


def read_document(
    filename: str,
    data: bytes,
    *,
    max_bytes: int,
    csv_column: str | None = None,
    csv_id_column: str | None = None,
) -> ExtractedDocument:
    """Extract the text and structure of an uploaded file.

    The format is chosen by the file extension. ``csv_column`` names the answer column of a CSV
    (default: one called text/response/answer/comment, or the only column); ``csv_id_column``
    names the respondent id column (default: one called id/respondent/participant, if any).
    Raises ``UnreadableFileError`` with a researcher-readable reason for anything unusable.
    """
    extension = PurePath(filename).suffix.lower()
    if extension not in SUPPORTED_EXTENSIONS:
        raise UnreadableFileError(
            filename,
            f"unsupported file type {extension or '(no extension)'!r}; "
            f"groundcode reads {', '.join(SUPPORTED_EXTENSIONS)}",
        )
    if len(data) > max_bytes:
        raise UnreadableFileError(
            filename, f"the file is {_human_size(len(data))}, over the {_human_size(max_bytes)} import limit"
        )
    if not data:
        raise UnreadableFileError(filename, "the file is empty")
    if extension == ".csv":
        document = _read_csv(filename, data, csv_column, csv_id_column)
    else:
        document = _READERS[extension](filename, data)
    if not document.text.strip():
        raise UnreadableFileError(filename, "the file contains no text (only blank space)")
    control = control_character_problem(document.text)
    if control is not None:
        raise UnreadableFileError(
            filename, f"{control}, which has no place in a transcript; remove it and import the file again"
        )
    return document
