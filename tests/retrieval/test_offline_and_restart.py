"""Retrieval works offline, never touches Chroma's default embedding function, and survives a restart
without recomputing a single vector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from groundcode.storage.database import create_database_engine, migrate, session_factory
from groundcode.storage.repository import Repository
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.indexing import index_codebook, index_source
from services.retrieval.search import candidate_codes, search
from services.retrieval.vector_store import ChromaVectorStore
from tests.retrieval.support import CountingEmbedder, add_transcript, internet_blocked
from tests.retrieval.test_indexing import CODES, ENGLISH, PERSIAN

ROOT = Path(__file__).resolve().parents[2]


def test_hub_downloads_are_switched_off_for_the_tests() -> None:
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_model_store_indexing_and_search_fetch_nothing(
    tmp_path: Path, chroma_server: tuple[str, int], sqlite_url: str
) -> None:
    engine = create_database_engine(sqlite_url)
    migrate(engine)
    repository = Repository(session_factory(engine))
    project_id = repository.ensure_project("offline").id
    source, segments = add_transcript(repository, project_id, "fa.txt", PERSIAN)
    repository.save_codebook(project_id, "main", CODES)
    with internet_blocked() as attempts:
        embedder = LocalE5Embedder()
        for store in (
            ChromaVectorStore.persistent(tmp_path / "chroma"),
            ChromaVectorStore.http(*chroma_server),
        ):
            index_source(repository, embedder, store, source.id)
            index_codebook(repository, embedder, store, project_id)
            (hits,) = search(embedder, store, project_id, ["air pollution"], k=1)
            (codes,) = candidate_codes(embedder, store, project_id, [segments[2].text], k=1)
            assert (hits[0].segment_id, codes[0].code_id) == (segments[2].id, "environment")
    engine.dispose()
    assert attempts == []


def test_a_restarted_process_reopens_the_index_and_recomputes_nothing(
    tmp_path: Path, e5: LocalE5Embedder, sqlite_url: str
) -> None:
    engine = create_database_engine(sqlite_url)
    migrate(engine)
    repository = Repository(session_factory(engine))
    project_id = repository.ensure_project("restart").id
    source, segments = add_transcript(repository, project_id, "en.txt", ENGLISH)
    embedder = CountingEmbedder(e5)
    first = index_source(repository, embedder, ChromaVectorStore.persistent(tmp_path / "chroma"), source.id)
    engine.dispose()
    assert first.embedded == len(ENGLISH)

    # A new process: a new Chroma client on the same directory, Chroma's default embedding function
    # forbidden and the network blocked.
    command = [sys.executable, "-m", "tests.retrieval.reopen_process"]
    arguments = [str(tmp_path / "chroma"), sqlite_url, source.id, project_id, "we could not pay the rent"]
    completed = subprocess.run(
        [*command, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["report"] == {"embedded": 0, "refreshed": 0, "deleted": 0, "unchanged": len(ENGLISH)}
    assert outcome["passages_embedded"] == 0
    assert outcome["top_hit"] == segments[4].id
    assert outcome["network_attempts"] == []
