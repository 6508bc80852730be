"""The retrieval service over real HTTP, with the real model and embedded Chroma."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from groundcode.app import open_groundcode
from groundcode.domain import Segment
from groundcode.settings import Settings
from services.retrieval.api import create_app
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.indexing import index_codebook, index_exemplar, index_source
from services.retrieval.vector_store import ChromaVectorStore
from tests.live_server import api_token, serve_in_thread
from tests.retrieval.support import add_transcript
from tests.retrieval.test_indexing import CODES, ENGLISH, PERSIAN


@dataclass
class Study:
    http: httpx.Client
    english: list[Segment]
    persian: list[Segment]


@pytest.fixture
def study(tmp_path: Path, sqlite_url: str, e5: LocalE5Embedder) -> Iterator[Study]:
    """Project "study": an English and a Persian interview and a codebook, all indexed; two exemplars."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    store = ChromaVectorStore.persistent(settings.data_dir / "chroma")  # where the app's store will be
    groundcode = open_groundcode(settings)
    repository = groundcode.repository
    project_id = repository.ensure_project("study").id
    english_source, english = add_transcript(repository, project_id, "en.txt", ENGLISH)
    persian_source, persian = add_transcript(repository, project_id, "fa.txt", PERSIAN)
    repository.save_codebook(project_id, "main", CODES)
    index_codebook(repository, e5, store, project_id)
    for source in (english_source, persian_source):
        index_source(repository, e5, store, source.id)
    index_exemplar(e5, store, project_id, english[1], ["job-loss"])
    index_exemplar(e5, store, project_id, english[4], ["housing"])
    groundcode.close()
    app = create_app(settings, run_workers=False)
    headers = api_token(settings, projects=["study"])
    with (
        serve_in_thread(app) as base_url,
        httpx.Client(base_url=base_url, timeout=60, headers=headers) as http,
    ):
        yield Study(http, english, persian)


def test_candidate_codes_for_one_segment_and_for_a_batch(study: Study) -> None:
    response = study.http.get(
        f"/projects/study/segments/{study.persian[1].id}/candidate-codes", params={"k": 2}
    )
    assert response.status_code == 200, response.text
    codes = response.json()
    assert [code["code_id"] for code in codes][:1] == ["job-loss"] and len(codes) == 2
    assert codes[0]["score"] >= codes[1]["score"]

    batch = study.http.post(
        "/projects/study/candidate-codes", json={"texts": ["We pay too much rent.", "هوای آلوده"], "k": 1}
    )
    assert [[code["code_id"] for code in codes] for codes in batch.json()] == [["housing"], ["environment"]]
    by_ids = study.http.post(
        "/projects/study/candidate-codes",
        json={"segment_ids": [study.english[2].id], "k": 1, "codebook": "main", "codebook_version": 1},
    )
    assert by_ids.json()[0][0]["code_id"] == "childcare"


def test_similar_segments_exclude_the_segment_itself(study: Study) -> None:
    own = study.http.get(f"/projects/study/segments/{study.english[1].id}/similar", params={"k": 5}).json()
    assert [(hit["segment_id"], hit["code_ids"]) for hit in own] == [(study.english[4].id, ["housing"])]
    batch = study.http.post(
        "/projects/study/similar-segments",
        json={"texts": [PERSIAN[1][1]], "k": 5, "filters": {"code_id": "job-loss"}},
    ).json()
    assert [hit["segment_id"] for hit in batch[0]] == [study.english[1].id]


def test_free_text_search_with_filters(study: Study) -> None:
    hits = study.http.get(
        "/projects/study/search", params={"q": "از دست دادن کار", "k": 3, "speaker": ["P1", "P2"]}
    ).json()
    assert {hit["segment_id"] for hit in hits[:2]} == {study.english[1].id, study.persian[1].id}
    assert all(hit["speaker"] in {"P1", "P2"} for hit in hits)
    batch = study.http.post(
        "/projects/study/search",
        json={
            "queries": ["rent", "pollution"],
            "k": 1,
            "filters": {"source_ids": [study.persian[0].source_id]},
        },
    ).json()
    assert [[hit["source_id"] for hit in hits] for hits in batch] == [[study.persian[0].source_id]] * 2


def test_bad_requests_are_refused_with_the_reason(study: Study) -> None:
    both = study.http.post("/projects/study/candidate-codes", json={"texts": ["a"], "segment_ids": ["b"]})
    assert both.status_code == 422 and "either texts or segment_ids" in both.text
    unknown_segment = study.http.get("/projects/study/segments/nope/candidate-codes")
    assert unknown_segment.status_code == 404 and "nope" in unknown_segment.json()["detail"]
    assert study.http.get("/projects/elsewhere/search", params={"q": "x"}).status_code == 404
    assert study.http.get("/projects/study/search", params={"q": "x", "k": 0}).status_code == 422
