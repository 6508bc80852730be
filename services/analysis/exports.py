"""Exports of a project's codings: tables (codings, code-by-source matrix) as CSV or XLSX, the codebook as
Markdown. Pure: each function turns models into text or bytes; writing the file is the caller's.

CSV is UTF-8 with a byte-order mark, so spreadsheet programs read Persian correctly, and text that a
spreadsheet would run as a formula is neutralised (``csv_cell``). XLSX keeps every
value as it is: text that starts with ``=`` stays text (not a formula), cells in Arabic script are set
right to left, times are in UTC, and control characters XLSX cannot hold are left out.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from groundcode.domain import Codebook, Model
from services.adjudication.models import CodeCount, CodingRow
from services.analysis.cooccurrence import CooccurrenceReport
from services.analysis.saturation import SaturationReport

Cell = str | int | float | datetime | None
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_RIGHT_TO_LEFT = Alignment(readingOrder=2, horizontal="right", wrap_text=True)
_MAX_COLUMN_WIDTH = 60
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Table(Model):
    title: str
    headers: list[str]
    rows: list[list[Cell]]


def codings_table(rows: Sequence[CodingRow]) -> Table:
    """One row per coding: source, speaker, offsets, text, code, coder, time (UTC) and provenance."""
    headers = list(CodingRow.model_fields)
    return Table(
        title="codings",
        headers=headers,
        rows=[[getattr(row, header) for header in headers] for row in rows],
    )


def matrix_table(rows: Sequence[CodingRow], sources: Sequence[str], codes: Sequence[CodeCount]) -> Table:
    """Codes (codebook order, then any other coded code) by sources: the distinct coded spans, whichever
    coder coded them, with a total per code."""
    spans: dict[str, set[tuple[str, int, int]]] = defaultdict(set)
    names = {code.code_id: code.name for code in codes}
    for row in rows:
        spans[row.code_id].add((row.source, row.start, row.end))
        names.setdefault(row.code_id, row.code)
    table_rows: list[list[Cell]] = []
    for code_id, name in names.items():
        per_source = [sum(1 for span in spans[code_id] if span[0] == source) for source in sources]
        table_rows.append([name, *per_source, len(spans[code_id])])
    return Table(title="code by source", headers=["code", *sources, "total"], rows=table_rows)


def cooccurrence_table(report: CooccurrenceReport) -> Table:
    """Codes by codes: the segments coded with the row's code that have the column's code near them (the
    ``segments`` column: segments coded with the row's code), then the c-coefficients for the same segment."""
    where = "the same segment" if report.window == 0 else f"within {report.window} segment(s)"
    rows: list[list[Cell]] = [
        [name, counts[index], *counts]
        for index, (name, counts) in enumerate(zip(report.codes, report.together, strict=True))
    ]
    if report.coefficient is not None:
        rows += [
            [f"c-coefficient: {name}", None, *(round(value, 3) for value in values)]
            for name, values in zip(report.codes, report.coefficient, strict=True)
        ]
    return Table(
        title=f"code co-occurrence (segments, {where})",
        headers=["code", "segments", *report.codes],
        rows=rows,
    )


def csv_text(table: Table) -> str:
    """The table as CSV text, with a leading byte-order mark; times in ISO 8601; every cell ``csv_cell``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(header) for header in table.headers])
    writer.writerows([csv_cell(cell) for cell in row] for row in table.rows)
    return "\ufeff" + buffer.getvalue()


def csv_cell(cell: Cell) -> str | int | float | None:
    """A cell as CSV writes it: text starting with ``= + - @``, a tab or a carriage return gets a leading
    ``'`` (OWASP's guidance against CSV injection), so spreadsheets show it instead of running it as a
    formula; numbers stay numbers and times are ISO 8601."""
    if isinstance(cell, datetime):
        return cell.isoformat()
    if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def xlsx_bytes(table: Table) -> bytes:
    """The table as one worksheet: bold header row, frozen, columns sized to their content."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = table.title[:31]
    sheet.append(table.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in table.rows:
        sheet.append([_excel(value) for value in values])
    widths = [len(header) for header in table.headers]
    for row in sheet.iter_rows(min_row=2):
        for index, cell in enumerate(row):
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
                widths[index] = max(widths[index], len(cell.value))
                if _ARABIC_SCRIPT.search(cell.value):
                    cell.alignment = _RIGHT_TO_LEFT
            elif isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
                widths[index] = max(widths[index], 19)
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(width + 2, _MAX_COLUMN_WIDTH)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _excel(value: Cell) -> Cell:
    """XLSX has no time zones and no control characters."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


def codebook_markdown(codebook: Codebook | None, counts: Sequence[CodeCount]) -> str:
    """The codebook as a Markdown table in hierarchy order (sub-codes under their parent, marked ↳), with
    each code's definition, accepted codings (also summed over its sub-codes) and suggestions."""
    if codebook is None:
        return "# Codebook\n\nThe project has no codebook yet.\n"
    by_id = {count.code_id: count for count in counts}
    children: dict[str | None, list[CodeCount]] = defaultdict(list)
    for count in counts:
        parent = count.parent_id if count.parent_id in by_id else None
        children[parent].append(count)

    def total(count: CodeCount) -> int:
        return count.codings + sum(total(child) for child in children[count.code_id])

    lines = [
        f"# Codebook: {codebook.name} (version {codebook.version})",
        "",
        f"{len(counts)} codes. Codings: accepted codings in force, every coder's; suggestions: how often "
        "the code was suggested.",
        "",
        "| Code | Definition | Codings | With sub-codes | Suggestions |",
        "|---|---|---:|---:|---:|",
    ]

    def add(count: CodeCount, depth: int) -> None:
        name = "\u2003" * max(depth - 1, 0) + ("↳ " if depth else "") + _cell(count.name)
        lines.append(
            f"| {name} | {_cell(count.definition)} | {count.codings} | {total(count)} | {count.suggestions} |"
        )
        for child in children[count.code_id]:
            add(child, depth + 1)

    for top in children[None]:
        add(top, 0)
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def saturation_table(report: SaturationReport) -> Table:
    """Both curves side by side, one row per interview, with the new codes named."""
    rows: list[list[Cell]] = []
    for accepted, suggested in zip(report.accepted.points, report.suggested.points, strict=True):
        rows.append(
            [
                accepted.interview,
                accepted.source,
                accepted.codes,
                accepted.new,
                accepted.cumulative,
                suggested.codes,
                suggested.new,
                suggested.cumulative,
                "; ".join(accepted.new_codes),
                "; ".join(suggested.new_codes),
            ]
        )
    headers = ["interview", "source"]
    for basis in ("accepted", "suggested"):
        headers += [f"{basis}_codes", f"{basis}_new", f"{basis}_cumulative"]
    return Table(
        title="saturation", headers=[*headers, "accepted_new_codes", "suggested_new_codes"], rows=rows
    )
