"""The command line on the coded study: exports (CSV with BOM, XLSX, Markdown, matrix) and saturation."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from groundcode.cli import app as cli
from tests.analysis.study import CODES, PERSIAN, SATURATION, interviews

ANSWERS = sum(len(answers) for answers in interviews())
FIRST_INTERVIEW = len(interviews()[0])  # coded twice: by the coder and by the owner
PERSIAN_TEXT = PERSIAN[0][1]


def run(data: Path, *arguments: str) -> str:
    result = CliRunner().invoke(cli, list(arguments), env={"GROUNDCODE_DATA_DIR": str(data)})
    assert result.exit_code == 0, result.output
    return result.output


def test_codings_as_csv_with_a_bom_and_every_coder(study_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "codings.csv"
    assert "local operator" in run(study_data, "export", "codings", "-p", "study", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == ANSWERS + FIRST_INTERVIEW
    assert {row["coder"] for row in rows} == {"cyrus", "olga"}
    persian = next(row for row in rows if row["text"] == PERSIAN_TEXT)
    assert persian["code"] == "Budget constraints" and persian["speaker"] == "مصاحبه‌شونده"
    assert int(persian["end"]) - int(persian["start"]) == len(PERSIAN_TEXT)
    assert datetime.fromisoformat(persian["decided_at"]).tzinfo is not None


def test_codings_of_one_code_and_coder(study_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "budget.csv"
    run(
        study_data,
        "export",
        "codings",
        "-p",
        "study",
        "--code",
        "budget constraints",
        "--coder",
        "cyrus",
        "--out",
        str(out),
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows and {(row["code"], row["coder"]) for row in rows} == {("Budget constraints", "cyrus")}
    unknown = CliRunner().invoke(
        cli,
        ["export", "codings", "-p", "study", "--code", "Budgt", "--out", str(out)],
        env={"GROUNDCODE_DATA_DIR": str(study_data)},
    )
    assert unknown.exit_code == 2 and "no code 'Budgt'" in unknown.output
    tomorrow = str((datetime.now(UTC) + timedelta(days=1)).date())
    run(study_data, "export", "codings", "-p", "study", "--since", tomorrow, "--out", str(out))
    assert list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig")))) == []
    backwards = CliRunner().invoke(
        cli,
        ["export", "codings", "-p", "study", "--since", tomorrow, "--until", "2020-01-01", "--out", str(out)],
        env={"GROUNDCODE_DATA_DIR": str(study_data)},
    )
    assert backwards.exit_code == 2 and "is before since" in backwards.output


def test_codings_as_xlsx_readable_with_openpyxl(study_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "codings.xlsx"
    run(study_data, "export", "codings", "-p", "study", "--format", "xlsx", "--out", str(out))
    sheet = openpyxl.load_workbook(out).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:8] == ["source", "speaker", "start", "end", "text", "code", "code_id", "coder"]
    assert len(rows) == 1 + ANSWERS + FIRST_INTERVIEW
    text = header.index("text")
    [persian_row] = [r for r in sheet.iter_rows(min_row=2) if r[text].value == PERSIAN_TEXT]
    assert persian_row[text].alignment.readingOrder == 2  # right to left
    assert isinstance(persian_row[header.index("decided_at")].value, datetime)


def test_the_codebook_as_markdown_with_counts(study_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "codebook.md"
    run(study_data, "export", "codebook", "-p", "study", "--out", str(out))
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Codebook: ")
    budget = sum(1 for answers in interviews() for name, _ in answers if name == "Budget constraints")
    line = next(line for line in text.splitlines() if line.startswith("| Budget constraints |"))
    assert f"| {budget + 1} | {budget + 1} |" in line  # + the owner's coding of interview 1
    assert text.count("\n| ") == len(CODES) + 1  # the header row and one row per code


def test_the_code_by_source_matrix_counts_distinct_spans(study_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "matrix.csv"
    run(study_data, "export", "matrix", "-p", "study", "--out", str(out))
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "code" and rows[0][1] == "interview_01.txt" and rows[0][-1] == "total"
    assert len(rows[0]) == 15 + 2 and len(rows) == 1 + len(CODES)
    budget = next(row for row in rows if row[0] == "Budget constraints")
    assert budget[1] == "1"  # coded by two coders, one span
    assert int(budget[-1]) == sum(
        1 for answers in interviews() for n, _ in answers if n == "Budget constraints"
    )


def test_a_format_the_export_does_not_have_is_refused(study_data: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["export", "codebook", "-p", "study", "--format", "csv", "--out", str(tmp_path / "x.csv")],
        env={"GROUNDCODE_DATA_DIR": str(study_data)},
    )
    assert result.exit_code != 0 and "codebook exports as md" in result.output


@pytest.mark.parametrize("what", ["codings", "codebook", "matrix"])
def test_export_help_says_who_the_command_line_acts_as(what: str) -> None:
    text = " ".join(CliRunner().invoke(cli, ["export", what, "--help"]).output.split())
    assert "local operator" in text and "every coder" in text


def test_saturation_prints_the_point_and_writes_png_and_csv(study_data: Path, tmp_path: Path) -> None:
    output = run(study_data, "saturation", "-p", "study", "--out", str(tmp_path), "--order", "imported")
    assert f"saturated at interview {SATURATION}" in " ".join(output.split())
    assert "3 consecutive" in output
    assert (tmp_path / "study-saturation.png").read_bytes().startswith(b"\x89PNG")
    rows = list(csv.DictReader(io.StringIO((tmp_path / "study-saturation.csv").read_text("utf-8-sig"))))
    assert [int(row["accepted_cumulative"]) for row in rows][-1] == len(CODES)
    assert rows[13]["source"] == "interview_14.txt"


def test_a_code_is_renamed_and_moved_on_the_command_line(study_data: Path, tmp_path: Path) -> None:
    output = run(
        study_data, "codebook", "edit", "Citizen trust", "-p", "study", "--name", "Trust in services"
    )
    assert "version 2" in output
    run(study_data, "codebook", "edit", "Digital skills", "-p", "study", "--parent", "Trust in services")
    out = tmp_path / "codebook.md"
    run(study_data, "export", "codebook", "-p", "study", "--out", str(out))
    text = out.read_text(encoding="utf-8")
    assert "Trust in services" in text and "Citizen trust" not in text
    refused = CliRunner().invoke(
        cli,
        ["codebook", "edit", "Trust in services", "-p", "study", "--parent", "Digital skills"],
        env={"GROUNDCODE_DATA_DIR": str(study_data)},
    )
    assert refused.exit_code == 1 and "which lies within it" in " ".join(refused.output.split())
