"""The suggestion routes over real HTTP, in the embedded app that ``groundcode serve`` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from groundcode.cli import app as cli
from groundcode.server import create_app
from groundcode.settings import Settings
from tests.live_server import api_token, poll_until, serve_in_thread

TRANSCRIPT = (
    "Interviewer: What holds you back?\n"
    "P1: The budget was cut again this year.\n\n"
    "Interviewer: And the citizens?\n"
    "P1: Nobody trusts the new portal.\n"
)


def wait_for_suggestions(http: httpx.Client, source_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = poll_until(
        lambda: http.get(f"/projects/study/sources/{source_id}/suggestions").json(),
        bool,
        f"no suggestions for source {source_id}",
    )
    return found


def test_suggestions_are_listed_summarised_and_redone(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    book = tmp_path / "book.yaml"
    book.write_text(
        "- name: Budget constraints\n  definition: Lack of money\n- name: Trust\n", encoding="utf-8"
    )
    imported = CliRunner().invoke(cli, ["import", "-p", "study", "--codebook", str(book)])
    assert imported.exit_code == 0, imported.output

    with (
        serve_in_thread(create_app(Settings())) as base_url,
        httpx.Client(
            base_url=base_url, timeout=60, headers=api_token(Settings(), projects=["study"], admin=True)
        ) as http,
    ):
        uploaded = http.post(
            "/projects/study/sources",
            files=[("files", ("one.txt", TRANSCRIPT.encode(), "text/plain"))],
            data={"unit": "turn"},
        ).json()["results"][0]
        first = wait_for_suggestions(http, uploaded["source_id"])
        assert {s["mode"] for s in first} == {"deductive"}
        assert all(s["backend"] == "offline" and 0 <= s["confidence"] <= 1 for s in first)
        summary = http.get("/projects/study/suggestions/summary").json()
        assert sum(row["count"] for row in summary) == len(first)

        queued = http.post("/projects/study/suggest", json={"sources": ["one.txt"]})
        assert queued.status_code == 202 and [item["stage"] for item in queued.json()] == ["suggest"]
        poll_until(
            lambda: http.get("/work-items").json()["counts"]["suggest"],
            lambda counts: counts == {"done": 1},
            "the suggest stage did not run again",
        )
        again = http.get(f"/projects/study/sources/{uploaded['source_id']}/suggestions").json()
        assert [s["id"] for s in again] == [s["id"] for s in first]  # replaced, not duplicated

        missing = http.post("/projects/study/suggest", json={"sources": ["nope.txt"]})
        assert missing.status_code == 404 and "no source" in missing.json()["detail"]
