"""The chunking service over real HTTP, on SQLite and PostgreSQL, with its in-process workers."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from groundcode.settings import Settings
from services.chunking.api import create_app
from tests.live_server import api_token, poll_until, serve_in_thread

TRANSCRIPT = (
    "Interviewer: How do agencies share data?\r\n"
    "P1: Mostly by email. It is slow, e.g. 3.5 days per request!\r\n"
    "Interviewer: And trust?\r\n"
    "P1: Low. People don't believe the portal. 👩🏽‍🔬\r\n"
)


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with (
        serve_in_thread(create_app(settings)) as base_url,
        httpx.Client(base_url=base_url, timeout=30, headers=api_token(settings, admin=True)) as http,
    ):
        yield http


def wait_for_segments(client: httpx.Client, source_id: str) -> list[dict[str, object]]:
    segments: list[dict[str, object]] = poll_until(
        lambda: client.get(f"/projects/study/sources/{source_id}/segments").json(),
        bool,
        f"source {source_id} was not chunked",
        timeout_seconds=30,
    )
    return segments


def test_upload_chunks_and_offsets_point_into_the_stored_text(client: httpx.Client) -> None:
    response = client.post(
        "/projects/study/sources",
        files=[("files", ("interview.txt", TRANSCRIPT.encode("utf-8-sig"), "text/plain"))],
        data={"unit": "sentence"},
    )
    assert response.status_code == 202, response.text
    (result,) = response.json()["results"]
    assert result["created"] and result["error"] is None
    segments = wait_for_segments(client, result["source_id"])
    source = client.get(f"/projects/study/sources/{result['source_id']}").json()
    assert "\r" not in source["text"] and not source["text"].startswith("\ufeff")
    for segment in segments:
        assert source["text"][segment["start"] : segment["end"]] == segment["text"]
    assert [s["speaker"] for s in segments][:2] == ["Interviewer", "P1"]
    listed = client.get("/projects/study/sources").json()
    assert listed[0]["segments"] == len(segments)
    assert client.get("/work-items").json()["counts"]["chunk"] == {"done": 1}


def test_bad_file_is_refused_by_name_and_others_still_import(client: httpx.Client) -> None:
    response = client.post(
        "/projects/study/sources",
        files=[
            ("files", ("empty.txt", b"", "text/plain")),
            ("files", ("slides.pptx", b"PK\x03\x04", "application/octet-stream")),
            ("files", ("good.txt", TRANSCRIPT.encode(), "text/plain")),
        ],
    )
    results = response.json()["results"]
    assert results[0]["error"].startswith("empty.txt: ")
    assert "unsupported file type '.pptx'" in results[1]["error"]
    assert results[2]["created"]
    wait_for_segments(client, results[2]["source_id"])
    assert len(client.get("/projects/study/sources").json()) == 1


def test_reimport_is_detected_and_not_duplicated(client: httpx.Client) -> None:
    upload = [("files", ("a.txt", TRANSCRIPT.encode(), "text/plain"))]
    first = client.post("/projects/study/sources", files=upload).json()["results"][0]
    second = client.post("/projects/study/sources", files=upload).json()["results"][0]
    assert second == {**first, "created": False}
    wait_for_segments(client, first["source_id"])
    assert len(client.get("/projects/study/sources").json()) == 1


def test_unknown_project_and_source_answer_404_with_reason(client: httpx.Client) -> None:
    assert client.get("/projects/nobody/sources").json() == {
        "detail": "no project named 'nobody' that you are a member of"
    }
    client.post("/projects/study/sources", files=[("files", ("a.txt", TRANSCRIPT.encode(), "text/plain"))])
    response = client.get("/projects/study/sources/missing/segments")
    assert response.status_code == 404
    assert "no source" in response.json()["detail"]


def test_health_and_readiness(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready"}
