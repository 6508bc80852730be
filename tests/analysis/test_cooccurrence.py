"""Code co-occurrence: segments coded with two codes (on the same segment or within a window), counted once
whoever coded them; the c-coefficient; the table, heat map and routes, with blind coding."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundcode.cli import app as cli
from services.analysis.axial import Placement
from services.analysis.cooccurrence import cooccurrence
from services.analysis.exports import cooccurrence_table
from tests.analysis.conftest import Team

CODES = [("a", "Trust"), ("b", "Budget"), ("c", "Law")]


def place(code_id: str, position: int, source_id: str = "s1") -> Placement:
    return Placement(code_id=code_id, source_id=source_id, position=position)


def test_same_segment_counts_segments_once_and_is_symmetric() -> None:
    placements = [place("a", 1), place("a", 1), place("b", 1), place("a", 2), place("b", 3), place("c", 3)]
    report = cooccurrence(placements, CODES, window=0)
    assert report.together == [[2, 1, 0], [1, 2, 1], [0, 1, 1]]
    assert report.coefficient is not None
    assert report.coefficient[0][1] == pytest.approx(1 / 3)  # 1 / (2 + 2 - 1)
    table = cooccurrence_table(report)
    assert table.headers == ["code", "segments", "Trust", "Budget", "Law"]
    assert table.rows[0] == ["Trust", 2, 2, 1, 0] and table.rows[3][0] == "c-coefficient: Trust"


def test_a_window_reaches_neighbouring_segments_of_the_same_source_only() -> None:
    placements = [place("a", 1), place("b", 2), place("c", 2, source_id="s2")]
    near = cooccurrence(placements, CODES, window=1)
    assert near.together[0] == [1, 1, 0] and near.coefficient is None
    assert cooccurrence(placements, CODES, window=0).together[0] == [1, 0, 0]


def test_the_routes_on_the_coded_study(team: Team) -> None:
    report = team.owner.get("/projects/study/cooccurrence").json()
    size = len(report["codes"])
    assert size >= 2 and report["counts"] == "segments"
    assert all(report["together"][i][j] == report["together"][j][i] for i in range(size) for j in range(size))
    near = team.owner.get("/projects/study/cooccurrence", params={"window": 2}).json()
    assert all(
        n >= s
        for row, same in zip(near["together"], report["together"], strict=True)
        for n, s in zip(row, same, strict=True)
    )
    rows = list(
        csv.reader(io.StringIO(team.owner.get("/projects/study/cooccurrence.csv").text.lstrip("\ufeff")))
    )
    assert rows[0][:2] == ["code", "segments"] and len(rows) == 1 + 2 * size
    plot = team.owner.get("/projects/study/cooccurrence.png")
    assert plot.headers["content-type"] == "image/png" and plot.content.startswith(b"\x89PNG")
    blind = team.viewer.get("/projects/study/cooccurrence").json()  # no codings of their own yet
    assert blind["codes"] == []
    assert team.owner.get("/projects/study/cooccurrence", params={"window": 51}).status_code == 422


def test_the_command_line_writes_the_table_and_heat_map(study_data: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "cooccurrence",
            "-p",
            "study",
            "--window",
            "1",
            "--out",
            str(study_data / "co.xlsx"),
            "--heat-map",
            str(study_data / "co.png"),
        ],
        env={"GROUNDCODE_DATA_DIR": str(study_data)},
    )
    assert result.exit_code == 0, result.output
    assert (study_data / "co.xlsx").stat().st_size > 0 and (study_data / "co.png").read_bytes().startswith(
        b"\x89PNG"
    )
