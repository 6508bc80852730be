"""Searches over the indexed collections. Every function takes a batch of texts and answers one ranked
list per text, most similar first; scores are cosine similarities, meaningful only as a ranking.

What is searched with is embedded as a *query*, what is stored was embedded as a *passage* (E5's
convention for asymmetric search; on the seed-002 themes it ranked as well as the alternatives).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TypeVar

from pydantic import Field

from groundcode.domain import Model
from groundcode.errors import NotFoundError
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import collection
from services.retrieval.vector_store import CollectionKind, Contains, Hit, VectorStore, Where


class CodeCandidate(Model):
    code_id: str
    name: str
    parent_id: str | None = None
    codebook: str
    codebook_version: int
    score: float
    text: str  # what was embedded for the code: name, definition, inclusion criteria, examples


class SegmentHit(Model):
    segment_id: str
    source_id: str
    speaker: str | None = None  # Chroma stores no nulls: a segment without a speaker has no key
    text: str
    score: float
    code_ids: list[str] = Field(default_factory=list)  # the accepted codes, for hits among the exemplars


ResultT = TypeVar("ResultT", CodeCandidate, SegmentHit)


class SegmentFilter(Model):
    """Restricts segment results; an empty list means no restriction."""

    source_ids: list[str] = Field(default_factory=list)
    speakers: list[str] = Field(default_factory=list)

    def where(self) -> Where:
        conditions: dict[str, list[str]] = {"source_id": self.source_ids, "speaker": self.speakers}
        return {field: values for field, values in conditions.items() if values}


class ExemplarFilter(SegmentFilter):
    code_id: str | None = None  # only exemplars that carry this code

    def where(self) -> Where:
        return {**super().where(), **({"code_ids": Contains(self.code_id)} if self.code_id else {})}


def candidate_codes(
    embedder: Embedder,
    store: VectorStore,
    project_id: str,
    texts: Sequence[str],
    *,
    k: int = 10,
    codebook: str | None = None,
    codebook_version: int | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
) -> list[list[CodeCandidate]]:
    """The ``k`` codes closest to each text (a segment's), optionally of one codebook and version.
    ``vectors`` are the texts' query embeddings, if the caller already has them."""
    where: dict[str, str | int] = {}
    if codebook is not None:
        where["codebook"] = codebook
    if codebook_version is not None:
        where["codebook_version"] = codebook_version
    ref = collection(project_id, CollectionKind.CODES, embedder)
    results = store.query(ref, _query_vectors(embedder, texts, vectors), k, where)
    return [
        [_from_hit(CodeCandidate, hit, score=hit.score, text=hit.document) for hit in hits]
        for hits in results
    ]


def similar_segments(
    embedder: Embedder,
    store: VectorStore,
    project_id: str,
    texts: Sequence[str],
    *,
    k: int = 10,
    filters: ExemplarFilter | None = None,
    exclude_segment_ids: Sequence[str | None] | None = None,
    vectors: Sequence[Sequence[float]] | None = None,
    within: Collection[str] | None = None,
) -> list[list[SegmentHit]]:
    """The ``k`` already-coded segments (exemplars) most like each text, with their accepted codes.

    ``exclude_segment_ids[i]`` (usually the segment that text ``i`` came from) is left out of answer ``i``;
    ``vectors`` are the texts' query embeddings, if the caller already has them; ``within``, if given,
    limits the answers to those exemplar segments (blind coding: a coder's own).
    """
    ref = collection(project_id, CollectionKind.EXEMPLARS, embedder)
    excluded = list(exclude_segment_ids or [None] * len(texts))
    if len(excluded) != len(texts):
        raise ValueError("give one excluded segment id (or None) per text")
    if within is not None and not within:
        return [[] for _ in texts]
    asked = k + 1 if any(excluded) else k  # the excluded segment may be among the nearest
    where = {**(filters or ExemplarFilter()).where(), **({"segment_id": sorted(within)} if within else {})}
    results = store.query(ref, _query_vectors(embedder, texts, vectors), asked, where)
    return [
        [
            _from_hit(SegmentHit, hit, segment_id=hit.id, text=hit.document, score=hit.score)
            for hit in hits
            if hit.id != exclude
        ][:k]
        for hits, exclude in zip(results, excluded, strict=True)
    ]


def search(
    embedder: Embedder,
    store: VectorStore,
    project_id: str,
    queries: Sequence[str],
    *,
    k: int = 10,
    filters: SegmentFilter | None = None,
) -> list[list[SegmentHit]]:
    """Free-text search: the ``k`` segments of the project that best match each query, in any language."""
    ref = collection(project_id, CollectionKind.SEGMENTS, embedder)
    results = store.query(ref, embedder.embed_queries(queries), k, (filters or SegmentFilter()).where())
    return [
        [_from_hit(SegmentHit, hit, segment_id=hit.id, text=hit.document, score=hit.score) for hit in hits]
        for hits in results
    ]


def segment_texts(
    embedder: Embedder, store: VectorStore, project_id: str, segment_ids: Sequence[str]
) -> list[str]:
    """The texts of indexed segments, in the order asked; raises ``NotFoundError`` naming the missing ones."""
    ref = collection(project_id, CollectionKind.SEGMENTS, embedder)
    unique_ids = list(dict.fromkeys(segment_ids))  # chromadb refuses a get with repeated ids
    found = {record.id: record.document for record in store.get(ref, ids=unique_ids)}
    missing = [segment_id for segment_id in segment_ids if segment_id not in found]
    if missing:
        raise NotFoundError(f"segments not indexed in this project: {', '.join(missing)}")
    return [found[segment_id] for segment_id in segment_ids]


def _query_vectors(
    embedder: Embedder, texts: Sequence[str], vectors: Sequence[Sequence[float]] | None
) -> Sequence[Sequence[float]]:
    if vectors is None:
        return embedder.embed_queries(texts)
    if len(vectors) != len(texts):
        raise ValueError("give one vector per text")
    return vectors


def _from_hit(model: type[ResultT], hit: Hit, **values: object) -> ResultT:
    """A result model from a hit: its fields that are in the hit's metadata, plus ``values``."""
    fields = {name: hit.metadata[name] for name in model.model_fields if name in hit.metadata}
    return model.model_validate({**fields, **values})
