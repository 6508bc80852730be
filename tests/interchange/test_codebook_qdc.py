"""REFI-QDA codebooks through groundcode: parse_codebook learns .qdc, and `groundcode codebook export`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from groundcode.cli import app
from groundcode.codebook_io import CodebookFormatError, format_codebook_yaml, parse_codebook
from groundcode.domain import CODE_PALETTE, Code
from groundcode.interchange.codebook import qdc_from_codes, qdc_losses
from groundcode.interchange.refiqda import interchange_guid, read_codebook, walk_codes, write_codebook
from groundcode.interchange.validate import validate_codebook
from tests.interchange.support import VENDOR_SAMPLES, members

BOOK_YAML = """\
name: Smart governance
codes:
  - name: Political image
    definition: How smart governance changes politics
    color: "#1f77b4"
    children:
      - name: Legal considerations
        definition: Laws that enable or block smart governance
      - name: شفافیت
        color: "#C0C"
  - name: Economic image
"""


def test_qdc_codes_keep_hierarchy_description_and_colour() -> None:
    qdc = write_codebook(qdc_from_codes(parse_codebook("book.yaml", BOOK_YAML, namespace="p1"), "test", "p1"))
    codes = parse_codebook("book.qdc", qdc.decode("utf-8"), namespace="p2")
    by_name = {code.name: code for code in codes}
    assert list(by_name) == ["Political image", "Legal considerations", "شفافیت", "Economic image"]
    assert by_name["Legal considerations"].parent_id == by_name["Political image"].id
    assert by_name["شفافیت"].parent_id == by_name["Political image"].id
    assert by_name["Economic image"].parent_id is None
    assert by_name["Political image"].definition == "How smart governance changes politics"
    assert by_name["Political image"].color == "#1f77b4" and by_name["شفافیت"].color == "#C0C"
    assert parse_codebook("book.qdc", qdc.decode("utf-8"), namespace="p2") == codes  # stable ids
    assert parse_codebook("book.qdc", qdc.decode("utf-8"), namespace="p3")[0].id != codes[0].id


def test_exported_guids_derive_from_code_ids() -> None:
    codes = parse_codebook("book.yaml", BOOK_YAML, namespace="p1")
    exported = qdc_from_codes(codes, "test", "p1")
    assert exported.codes[0].guid == interchange_guid("code", codes[0].id, "p1")
    assert write_codebook(qdc_from_codes(codes, "test", "p1")) == write_codebook(exported)


def test_nvivo_codebook_with_repeated_names_is_read() -> None:
    qde = members((VENDOR_SAMPLES / "nvivo_project.qdpx").read_bytes())["project.qde"].decode("utf-8")
    qdc = qde[qde.index("<Codes>") : qde.index("</Codes>") + len("</Codes>")]
    document = f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="NVivo">{qdc}</CodeBook>'
    codes = parse_codebook("nvivo.qdc", document, namespace="p")
    assert len(codes) == 262 and len({code.id for code in codes}) == 262
    assert sum(code.name == "programming" for code in codes) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<CodeBook", "not well-formed XML"),
        ('<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>', "does not follow the REFI-QDA"),
        ('<!DOCTYPE CodeBook [<!ENTITY x "y">]><CodeBook/>', "a DOCTYPE declaration"),
        (
            '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
            '<Code guid="00000000-0000-4000-8000-000000000001" name="A" isCodable="true"/>'
            '<Code guid="{00000000-0000-4000-8000-000000000001}" name="B" isCodable="true"/>'
            "</Codes></CodeBook>",
            "two Codes share the GUID",
        ),
        (
            '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
            '<Code guid="00000000-0000-4000-8000-000000000001" name=" " isCodable="true"/>'
            "</Codes></CodeBook>",
            "a code is not valid: String should have at least 1 character",
        ),
    ],
)
def test_bad_qdc_names_the_file_and_problem(text: str, problem: str) -> None:
    with pytest.raises(CodebookFormatError, match=problem) as caught:
        parse_codebook("book.qdc", text, namespace="p")
    assert str(caught.value).startswith("book.qdc: ")


def test_yaml_export_reads_back_as_the_same_codes() -> None:
    codes = parse_codebook("book.yaml", BOOK_YAML, namespace="p1")
    with_criteria = [codes[0].model_copy(update={"inclusion": "laws", "examples": ["a", "b"]}), *codes[1:]]
    yaml_text = format_codebook_yaml("Smart governance", with_criteria)
    assert parse_codebook("again.yaml", yaml_text, namespace="p1") == with_criteria


def test_qdc_losses_name_what_the_format_cannot_carry() -> None:
    codes = [
        Code(name="Trust", inclusion="confidence", color="#fff"),
        Code(name="Budget", color="red"),
        Code(name="Law", definition="only a definition"),
    ]
    losses = qdc_losses(codes)
    assert losses == [
        "1 code(s) have inclusion/exclusion criteria or examples, which REFI-QDA codebooks cannot carry; "
        "only the definition is exported (as the Description): Trust",
        "code 'Budget': colour 'red' is not #RGB or #RRGGBB; a palette colour is exported",
    ]
    exported = qdc_from_codes(codes, "test", "p").codes
    assert exported[0].color == "#fff" and exported[1].color == codes[1].display_color in CODE_PALETTE


runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path / "data"


def test_qdc_round_trip_through_import_and_export_commands(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(BOOK_YAML, encoding="utf-8")
    _run("import", "-p", "first", "--codebook", "book.yaml")
    output = _run("codebook", "export", "first", "--format", "qdc", "--out", "book.qdc")
    assert "Codebook book version 1: 4 codes written to book.qdc (qdc)" in output
    assert "not exported" not in output
    exported = (tmp_path / "book.qdc").read_bytes()
    validate_codebook(exported)
    assert [code.name for code in read_codebook(exported).codes] == ["Political image", "Economic image"]

    assert "Codebook book: 4 codes" in _run("import", "-p", "second", "--create", "--codebook", "book.qdc")
    _run("codebook", "export", "second", "--format", "yaml", "--out", "second.yaml")
    _run("codebook", "export", "first", "--format", "yaml", "--out", "first.yaml")
    first, second = (
        yaml.safe_load((tmp_path / name).read_text("utf-8")) for name in ("first.yaml", "second.yaml")
    )
    # Codes without a colour went out with a palette colour of their own, which the second project keeps.
    assert _without_colours(second) == _without_colours(first)
    assert {code.color for code, _ in walk_codes(read_codebook(exported).codes)} >= {"#C0C"}
    # The second project's codes have ids of their own, yet go out with the GUIDs they came in with.
    _run("codebook", "export", "second", "--format", "qdc", "--out", "second.qdc")
    assert (tmp_path / "second.qdc").read_bytes() == exported


def test_export_refuses_an_unknown_project_or_codebook(data_dir: Path) -> None:
    _run("init", "-p", "empty")
    result = runner.invoke(app, ["codebook", "export", "nowhere", "--out", "x.qdc"])
    assert result.exit_code == 2 and "no project named 'nowhere'" in result.output
    result = runner.invoke(app, ["codebook", "export", "empty", "--out", "x.qdc"])
    assert result.exit_code == 2 and "project 'empty' has no codebook" in result.output


def _without_colours(value: object) -> object:
    if isinstance(value, dict):
        return {key: _without_colours(item) for key, item in value.items() if key != "color"}
    if isinstance(value, list):
        return [_without_colours(item) for item in value]
    return value


def test_parents_never_applied_are_categories_and_every_code_has_a_colour() -> None:
    codes = [Code(id="parent", name="Barriers"), Code(id="child", name="Budget", parent_id="parent")]
    (parent,) = qdc_from_codes(codes, "test", "p", applied={"child"}).codes
    assert not parent.is_codable and parent.children[0].is_codable
    assert qdc_from_codes(codes, "test", "p", applied={"parent"}).codes[0].is_codable
    assert all(code.color in CODE_PALETTE for code, _ in walk_codes([parent]))
    assert codes[0].display_color == codes[0].model_copy(update={"name": "Renamed"}).display_color
