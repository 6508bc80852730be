"""The vector store port and its Chroma adapter (embedded ``PersistentClient`` or a Chroma server).

Vectors always come from our own ``Embedder``: collections are created and opened with
``embedding_function=None``, so Chroma never loads (or downloads) its default model. Scores are cosine
similarities (collections use the cosine space; Chroma's distance is ``1 - cosine``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, Self, cast

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from numpy.typing import NDArray

from groundcode.domain import Model, content_hash
from groundcode.settings import Settings
from services.retrieval.batching import batched

Scalar = str | int | float | bool
MetadataValue = Scalar | list[str]
Metadata = dict[str, MetadataValue]


class CollectionKind(StrEnum):
    SEGMENTS = "segments"  # every segment of every source
    CODES = "codes"  # the latest version of each codebook's codes
    EXEMPLARS = "exemplars"  # segments with accepted codings, carrying their code ids


class CollectionRef(Model):
    """One collection: a project's items of one kind, in one embedding model's vector space."""

    project_id: str
    kind: CollectionKind
    embedding_model: str

    @property
    def name(self) -> str:
        # A digest keeps any project id or model name within Chroma's naming rules (3-63 safe characters);
        # a new embedding model gets new collections, so vectors of two models never mix.
        digest = content_hash(f"{self.project_id}\x1f{self.embedding_model}")[:32]
        return f"gc_{self.kind.value}_{digest}"


@dataclass(frozen=True, slots=True)
class VectorRecord:
    """An item to store: its vector, the text it was made from, and filterable metadata."""

    id: str
    embedding: Sequence[float]
    document: str
    metadata: Metadata


class StoredRecord(Model):
    id: str
    document: str
    metadata: Metadata
    embedding: list[float] | None = None


class Hit(Model):
    id: str
    score: float  # cosine similarity: rank by it, never threshold it (with E5, unrelated texts score ~0.8)
    document: str
    metadata: Metadata


@dataclass(frozen=True, slots=True)
class Contains:
    """Condition on a list-valued metadata field: the list contains ``value``."""

    value: Scalar


Condition = Scalar | Sequence[Scalar] | Contains
"""A scalar must be equal, a sequence is "any of", ``Contains`` looks inside a list field."""
Where = Mapping[str, Condition]
"""Metadata filter: every field's condition must hold."""


class VectorStore(Protocol):
    def upsert(self, ref: CollectionRef, records: Sequence[VectorRecord]) -> None:
        """Insert records, or replace them (vector, document and all metadata) by id. Idempotent."""
        ...

    def query(
        self, ref: CollectionRef, embeddings: Sequence[Sequence[float]], k: int, where: Where | None = None
    ) -> list[list[Hit]]:
        """The ``k`` nearest records to each embedding, most similar first."""
        ...

    def get(
        self,
        ref: CollectionRef,
        *,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        with_embeddings: bool = False,
    ) -> list[StoredRecord]:
        """Stored records by id and/or filter (all of them if neither is given); unknown ids are skipped."""
        ...

    def delete(self, ref: CollectionRef, ids: Sequence[str]) -> None: ...

    def count(self, ref: CollectionRef) -> int: ...


class ChromaVectorStore:
    """``VectorStore`` over a Chroma client; collections are created on first use."""

    def __init__(self, client: ClientAPI) -> None:
        self._client = client
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()

    @classmethod
    def persistent(cls, path: Path) -> Self:
        """Embedded Chroma in a directory: one process at a time (use a server for several workers)."""
        path.mkdir(parents=True, exist_ok=True)
        return cls(chromadb.PersistentClient(path=str(path), settings=_chroma_settings()))

    @classmethod
    def http(cls, host: str, port: int) -> Self:
        """A Chroma server (``chroma run --path DIR --host H --port P``)."""
        return cls(chromadb.HttpClient(host=host, port=port, settings=_chroma_settings()))

    def upsert(self, ref: CollectionRef, records: Sequence[VectorRecord]) -> None:
        collection = self._collection(ref)
        for batch in batched(records, self._client.get_max_batch_size()):
            ids = [record.id for record in batch]
            # Chroma merges metadata on upsert; a None clears a field, so the new metadata replaces the old.
            previous = collection.get(ids=ids, include=["metadatas"])
            old_fields = {
                id_: set(metadata or {})
                for id_, metadata in zip(previous["ids"], previous["metadatas"] or [], strict=True)
            }
            metadatas: list[Any] = [
                {
                    **dict.fromkeys(old_fields.get(record.id, set()) - record.metadata.keys()),
                    **record.metadata,
                }
                for record in batch
            ]
            collection.upsert(
                ids=ids,
                embeddings=_array([record.embedding for record in batch]),
                documents=[record.document for record in batch],
                metadatas=metadatas,
            )

    def query(
        self, ref: CollectionRef, embeddings: Sequence[Sequence[float]], k: int, where: Where | None = None
    ) -> list[list[Hit]]:
        if not embeddings:
            return []
        result = self._collection(ref).query(
            query_embeddings=_array(embeddings),
            n_results=k,
            where=chroma_where(where),
            include=["documents", "metadatas", "distances"],
        )
        return [
            [
                Hit(id=id_, score=1.0 - distance, document=document or "", metadata=dict(metadata or {}))
                for id_, distance, document, metadata in zip(
                    ids, distances, documents, metadatas, strict=True
                )
            ]
            for ids, distances, documents, metadatas in zip(
                result["ids"],
                result["distances"] or [],
                result["documents"] or [],
                cast(list[list[Any]], result["metadatas"] or []),
                strict=True,
            )
        ]

    def get(
        self,
        ref: CollectionRef,
        *,
        ids: Sequence[str] | None = None,
        where: Where | None = None,
        with_embeddings: bool = False,
    ) -> list[StoredRecord]:
        if ids is not None and not ids:
            return []
        include: list[Any] = ["documents", "metadatas", *(["embeddings"] if with_embeddings else [])]
        result = self._collection(ref).get(
            ids=list(ids) if ids is not None else None, where=chroma_where(where), include=include
        )
        embeddings = result["embeddings"] if with_embeddings else None
        return [
            StoredRecord(
                id=id_,
                document=(result["documents"] or [])[index] or "",
                metadata=dict(cast(list[Any], result["metadatas"] or [])[index] or {}),
                embedding=[float(value) for value in embeddings[index]] if embeddings is not None else None,
            )
            for index, id_ in enumerate(result["ids"])
        ]

    def delete(self, ref: CollectionRef, ids: Sequence[str]) -> None:
        collection = self._collection(ref)
        for batch in batched(ids, self._client.get_max_batch_size()):
            collection.delete(ids=list(batch))

    def count(self, ref: CollectionRef) -> int:
        return self._collection(ref).count()

    def _collection(self, ref: CollectionRef) -> Collection:
        with self._lock:
            collection = self._collections.get(ref.name)
            if collection is None:
                collection = self._client.get_or_create_collection(
                    ref.name,
                    embedding_function=None,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={
                        "project_id": ref.project_id,
                        "kind": ref.kind.value,
                        "embedding_model": ref.embedding_model,
                    },
                )
                self._collections[ref.name] = collection
            return collection


def _chroma_settings() -> ChromaSettings:
    # A fresh object per client: Chroma's client constructors write into the settings they are given, so
    # a shared one would send a later PersistentClient to an earlier HttpClient's server.
    return ChromaSettings(anonymized_telemetry=False)


def _array(vectors: Sequence[Sequence[float]]) -> NDArray[np.float32]:
    return np.asarray(vectors, dtype=np.float32)


def chroma_where(where: Where | None) -> dict[str, Any] | None:
    """Our filter in Chroma's ``where`` syntax (``None`` when there is nothing to filter)."""
    clauses = [{field: _chroma_condition(condition)} for field, condition in (where or {}).items()]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _chroma_condition(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, Contains):
        return {"$contains": condition.value}
    if isinstance(condition, str | int | float | bool):
        return {"$eq": condition}
    return {"$in": list(condition)}


def vector_store_from_settings(settings: Settings) -> ChromaVectorStore:
    """The configured store (for the composition root): a Chroma server if ``chroma_host`` is set."""
    if settings.chroma_host:
        return ChromaVectorStore.http(settings.chroma_host, settings.chroma_port)
    return ChromaVectorStore.persistent(settings.data_dir / "chroma")
