"""The VectorStore contract, run on embedded Chroma and on a Chroma server."""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest

from services.retrieval.vector_store import (
    ChromaVectorStore,
    CollectionKind,
    CollectionRef,
    Contains,
    VectorRecord,
    chroma_where,
)


def unit(*values: float) -> list[float]:
    norm = math.sqrt(sum(value * value for value in values))
    return [value / norm for value in values]


def ref(kind: CollectionKind = CollectionKind.SEGMENTS, project_id: str | None = None) -> CollectionRef:
    return CollectionRef(project_id=project_id or uuid.uuid4().hex, kind=kind, embedding_model="test-3d")


RECORDS = [
    VectorRecord("a", unit(1, 0, 0), "alpha", {"source_id": "s1", "speaker": "P1", "code_ids": ["c1", "c2"]}),
    VectorRecord(
        "b", unit(1, 1, 0), "beta", {"source_id": "s1", "speaker": "Interviewer", "code_ids": ["c2"]}
    ),
    VectorRecord("c", unit(0, 1, 0), "gamma", {"source_id": "s2", "speaker": "P1", "code_ids": ["c3"]}),
    VectorRecord("d", unit(0, 0, 1), "delta", {"source_id": "s3", "position": 4}),
]


def test_query_ranks_by_cosine_similarity(store: ChromaVectorStore) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    (hits,) = store.query(collection, [unit(1, 0.1, 0)], k=3)
    assert [hit.id for hit in hits] == ["a", "b", "c"]
    assert hits[0].score == pytest.approx(unit(1, 0.1, 0)[0], abs=1e-3)
    assert hits[1].score == pytest.approx(
        sum(x * y for x, y in zip(unit(1, 0.1, 0), unit(1, 1, 0), strict=True)), abs=1e-3
    )
    assert (hits[0].document, hits[0].metadata["code_ids"]) == ("alpha", ["c1", "c2"])


def test_batch_query_answers_each_embedding_in_order(store: ChromaVectorStore) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    results = store.query(collection, [unit(0, 0, 1), unit(0, 1, 0)], k=1)
    assert [[hit.id for hit in hits] for hits in results] == [["d"], ["c"]]


def test_upsert_is_idempotent_and_replaces_by_id(store: ChromaVectorStore) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    store.upsert(collection, RECORDS)
    store.upsert(collection, [VectorRecord("a", unit(0, 0, 1), "alpha v2", {"source_id": "s9"})])
    assert store.count(collection) == len(RECORDS)
    (stored,) = store.get(collection, ids=["a"])
    assert (stored.document, stored.metadata) == ("alpha v2", {"source_id": "s9"})


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"source_id": "s1"}, {"a", "b"}),
        ({"source_id": ["s2", "s3"]}, {"c", "d"}),
        ({"speaker": "P1", "source_id": "s1"}, {"a"}),
        ({"code_ids": Contains("c2")}, {"a", "b"}),
        ({"position": 4}, {"d"}),
        ({"source_id": "nowhere"}, set()),
    ],
)
def test_filters_restrict_query_and_get(
    store: ChromaVectorStore, where: dict[str, object], expected: set[str]
) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    (hits,) = store.query(collection, [unit(1, 1, 1)], k=10, where=where)  # type: ignore[arg-type]
    assert {hit.id for hit in hits} == expected
    assert {record.id for record in store.get(collection, where=where)} == expected  # type: ignore[arg-type]


def test_get_skips_unknown_ids_and_returns_vectors_on_request(store: ChromaVectorStore) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    assert store.get(collection, ids=[]) == []
    (found,) = store.get(collection, ids=["c", "missing"], with_embeddings=True)
    assert found.id == "c" and found.embedding == pytest.approx(unit(0, 1, 0), abs=1e-6)
    assert store.get(collection, ids=["c"])[0].embedding is None
    assert {record.id for record in store.get(collection)} == {"a", "b", "c", "d"}


def test_delete_removes_only_the_named_ids(store: ChromaVectorStore) -> None:
    collection = ref()
    store.upsert(collection, RECORDS)
    store.delete(collection, ["a", "missing"])
    store.delete(collection, [])
    assert store.count(collection) == 3
    (hits,) = store.query(collection, [unit(1, 0, 0)], k=10)
    assert "a" not in {hit.id for hit in hits}


def test_collections_are_separate_per_project_and_kind(store: ChromaVectorStore) -> None:
    segments = ref()
    codes = ref(CollectionKind.CODES, segments.project_id)
    other_project = ref()
    store.upsert(segments, RECORDS)
    assert store.count(codes) == 0 and store.count(other_project) == 0
    assert store.query(codes, [unit(1, 0, 0)], k=3) == [[]]
    assert store.query(segments, [], k=3) == []


def test_large_upserts_are_split_into_batches_the_server_accepts(store: ChromaVectorStore) -> None:
    collection = ref()
    total = 6000  # Chroma 1.5 takes at most 5461 records per call, embedded or server
    store.upsert(collection, [VectorRecord(f"r{i}", unit(1, i, 0), "", {"n": i}) for i in range(total)])
    assert store.count(collection) == total
    store.delete(collection, [f"r{i}" for i in range(total)])
    assert store.count(collection) == 0


def test_collection_names_follow_chroma_rules_for_any_project_id() -> None:
    name = CollectionRef(
        project_id="Проект / 2024 ..", kind=CollectionKind.EXEMPLARS, embedding_model="openai/x"
    ).name
    assert name.startswith("gc_exemplars_") and len(name) <= 63
    assert name.replace("_", "").isalnum() and name.isascii()
    assert (
        name
        != CollectionRef(
            project_id="Проект / 2024 ..", kind=CollectionKind.EXEMPLARS, embedding_model="y"
        ).name
    )


def test_filters_translate_to_chroma_where() -> None:
    assert chroma_where(None) is None and chroma_where({}) is None
    assert chroma_where({"source_id": "s1"}) == {"source_id": {"$eq": "s1"}}
    assert chroma_where({"speaker": ["A", "B"], "code_ids": Contains("c")}) == {
        "$and": [{"speaker": {"$in": ["A", "B"]}}, {"code_ids": {"$contains": "c"}}]
    }


def test_a_server_store_and_an_embedded_store_in_one_process_stay_apart(
    tmp_path: Path, chroma_server: tuple[str, int]
) -> None:
    collection = ref()
    server = ChromaVectorStore.http(*chroma_server)
    embedded = ChromaVectorStore.persistent(tmp_path / "chroma")
    embedded.upsert(collection, RECORDS[:1])
    assert (embedded.count(collection), server.count(collection)) == (1, 0)
