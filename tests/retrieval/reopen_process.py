"""A fresh process re-opening an index after a "restart": re-indexes a source and searches, offline.

    python -m tests.retrieval.reopen_process CHROMA_DIR DATABASE_URL SOURCE_ID PROJECT_ID QUERY

Prints one JSON object: the re-index report, texts embedded, the top hit and any network attempts.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(chroma_dir: str, database_url: str, source_id: str, project_id: str, query: str) -> None:
    os.environ["HF_HUB_OFFLINE"] = os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from groundcode.storage.database import create_database_engine, session_factory
    from groundcode.storage.repository import Repository
    from services.retrieval.embeddings import LocalE5Embedder
    from services.retrieval.indexing import index_source
    from services.retrieval.search import search
    from services.retrieval.vector_store import ChromaVectorStore
    from tests.retrieval.support import CountingEmbedder, internet_blocked

    with internet_blocked() as attempts:
        engine = create_database_engine(database_url)
        repository = Repository(session_factory(engine))
        embedder = CountingEmbedder(LocalE5Embedder())
        store = ChromaVectorStore.persistent(Path(chroma_dir))
        report = index_source(repository, embedder, store, source_id)
        (hits,) = search(embedder, store, project_id, [query], k=1)
        engine.dispose()
    print(
        json.dumps(
            {
                "report": report.model_dump(),
                "passages_embedded": embedder.passages,
                "top_hit": hits[0].segment_id,
                "network_attempts": attempts,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
