"""Indexing: what is embedded for segments, codes and exemplars, and keeping the collections in step.

Every stored item carries the hash of the text it was embedded from. Re-indexing therefore embeds only new
or changed texts, re-writes items whose metadata alone changed with their stored vector, and deletes items
that are gone, so running it again (after a crash, a duplicate delivery or a restart) recomputes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from groundcode.domain import Codebook, Model, Segment, Stage, content_hash, derived_id
from groundcode.errors import NotFoundError
from groundcode.queue.ports import FollowUps
from groundcode.storage.repository import Repository
from services.retrieval.batching import batched
from services.retrieval.embeddings import Embedder
from services.retrieval.vector_store import (
    CollectionKind,
    CollectionRef,
    Metadata,
    StoredRecord,
    VectorRecord,
    VectorStore,
)

HASH_KEY = "content_hash"
INDEX_BATCH_SIZE = 256
"""Items embedded and written per round: a failure loses at most one round, a retry skips the rest."""


class IndexItem(Model):
    """An item as the database says it should be indexed: ``text`` is embedded and stored as the document."""

    id: str
    text: str
    metadata: Metadata

    def stored_metadata(self) -> Metadata:
        return {**self.metadata, HASH_KEY: content_hash(self.text)}


class IndexPlan(Model):
    embed: list[IndexItem]  # new, or the text changed
    refresh: list[IndexItem]  # same text, other metadata: re-written with the stored vector
    delete: list[str]  # stored but no longer wanted
    unchanged: int


class IndexReport(Model):
    embedded: int
    refreshed: int
    deleted: int
    unchanged: int


class CodeEntry(Protocol):
    """What a code's text is made of (a codebook ``Code``, or a candidate offered for a segment)."""

    @property
    def name(self) -> str: ...
    @property
    def definition(self) -> str: ...
    @property
    def inclusion(self) -> str: ...
    @property
    def examples(self) -> list[str]: ...


def code_text(code: CodeEntry) -> str:
    """What a code's vector is made of: what a coder reads to decide that the code applies.

    The exclusion criteria are left out on purpose: they describe what the code is *not*, and embeddings
    do not understand negation, so including them would pull the code toward the segments it excludes.
    """
    parts = [code.name, code.definition, code.inclusion, *code.examples]
    return "\n".join(part.strip() for part in parts if part.strip())


def segment_item(segment: Segment) -> IndexItem:
    return IndexItem(id=segment.id, text=segment.text, metadata=_segment_metadata(segment))


def code_items(codebook: Codebook) -> list[IndexItem]:
    return [
        IndexItem(
            # Code ids are only unique within a codebook, and a project may have several codebooks.
            id=derived_id("code", codebook.name, code.id),
            text=code_text(code),
            metadata=_without_none(
                {
                    "code_id": code.id,
                    "name": code.name,
                    "codebook": codebook.name,
                    "codebook_version": codebook.version,
                    "parent_id": code.parent_id,
                }
            ),
        )
        for code in codebook.codes
    ]


def exemplar_item(segment: Segment, code_ids: Sequence[str]) -> IndexItem:
    """An accepted coding as an example: the segment's text with every code accepted for it."""
    return IndexItem(
        id=segment.id,
        text=segment.text,
        metadata={**_segment_metadata(segment), "segment_id": segment.id, "code_ids": sorted(set(code_ids))},
    )


def plan_index(wanted: Sequence[IndexItem], stored: Sequence[StoredRecord]) -> IndexPlan:
    """Compare what should be indexed with what is (``stored``: the same scope, without vectors)."""
    stored_by_id = {record.id: record for record in stored}
    embed: list[IndexItem] = []
    refresh: list[IndexItem] = []
    for item in wanted:
        record = stored_by_id.get(item.id)
        metadata = item.stored_metadata()
        if record is None or record.metadata.get(HASH_KEY) != metadata[HASH_KEY]:
            embed.append(item)
        elif record.metadata != metadata:
            refresh.append(item)
    wanted_ids = {item.id for item in wanted}
    return IndexPlan(
        embed=embed,
        refresh=refresh,
        delete=[record_id for record_id in stored_by_id if record_id not in wanted_ids],
        unchanged=len(wanted) - len(embed) - len(refresh),
    )


def apply_plan(
    plan: IndexPlan, ref: CollectionRef, embedder: Embedder, store: VectorStore, *, batch_size: int
) -> IndexReport:
    """Carry out a plan. Every write is an idempotent upsert or delete, so a failed run is completed
    by running again; vectors are written before anything is deleted."""
    stored_vectors = {
        record.id: record.embedding
        for record in store.get(ref, ids=[item.id for item in plan.refresh], with_embeddings=True)
        if record.embedding is not None
    }
    to_embed = plan.embed + [item for item in plan.refresh if item.id not in stored_vectors]
    for batch in batched(to_embed, batch_size):
        vectors = embedder.embed_passages([item.text for item in batch])
        store.upsert(ref, [_record(item, vector) for item, vector in zip(batch, vectors, strict=True)])
    refreshed = [_record(item, stored_vectors[item.id]) for item in plan.refresh if item.id in stored_vectors]
    store.upsert(ref, refreshed)
    store.delete(ref, plan.delete)
    return IndexReport(
        embedded=len(to_embed), refreshed=len(refreshed), deleted=len(plan.delete), unchanged=plan.unchanged
    )


def collection(project_id: str, kind: CollectionKind, embedder: Embedder) -> CollectionRef:
    """The project's collection of ``kind`` in ``embedder``'s vector space."""
    return CollectionRef(project_id=project_id, kind=kind, embedding_model=embedder.model_id)


def index_source(
    repository: Repository,
    embedder: Embedder,
    store: VectorStore,
    source_id: str,
    *,
    batch_size: int = INDEX_BATCH_SIZE,
) -> IndexReport:
    """Make the segments collection hold exactly the source's current segments. Idempotent; raises on
    failure (so the work item is retried) and a retry embeds only what the failed run had not written."""
    source = repository.get_source(source_id)
    ref = collection(source.project_id, CollectionKind.SEGMENTS, embedder)
    wanted = [segment_item(segment) for segment in repository.list_segments(source.id)]
    stored = store.get(ref, where={"source_id": source.id})
    return apply_plan(plan_index(wanted, stored), ref, embedder, store, batch_size=batch_size)


def index_source_handler(
    repository: Repository, embedder: Embedder, store: VectorStore, source_id: str
) -> FollowUps:
    """The index stage handler: ``index_source``, then the source goes on to suggestion."""
    index_source(repository, embedder, store, source_id)
    return [(Stage.SUGGEST, source_id)]


def index_codebook(
    repository: Repository,
    embedder: Embedder,
    store: VectorStore,
    project_id: str,
    codebook_name: str | None = None,
    *,
    batch_size: int = INDEX_BATCH_SIZE,
) -> IndexReport:
    """Make the codes collection hold the newest version of the codebook (default: the latest saved one):
    changed codes are re-embedded, removed codes deleted, the others only re-labelled with the version."""
    codebook = repository.latest_codebook(project_id, codebook_name)
    if codebook is None:
        raise NotFoundError(
            f"the project has no codebook{f' named {codebook_name!r}' if codebook_name else ''}"
        )
    ref = collection(project_id, CollectionKind.CODES, embedder)
    stored = store.get(ref, where={"codebook": codebook.name})
    return apply_plan(plan_index(code_items(codebook), stored), ref, embedder, store, batch_size=batch_size)


def index_codebook_handler(
    repository: Repository, embedder: Embedder, store: VectorStore, codebook_id: str
) -> FollowUps:
    """The codebook index stage handler. The subject is one saved version, but the newest version of that
    codebook is what gets indexed, so a late or repeated work item never brings back older codes."""
    codebook = repository.get_codebook(codebook_id)
    index_codebook(repository, embedder, store, codebook.project_id, codebook.name)
    return []


def index_exemplar(
    embedder: Embedder, store: VectorStore, project_id: str, segment: Segment, code_ids: Sequence[str]
) -> IndexReport:
    """Record the codes accepted for a segment (called after each adjudication decision). With no code ids
    the segment stops being an exemplar; a change of codes alone re-uses the stored vector."""
    ref = collection(project_id, CollectionKind.EXEMPLARS, embedder)
    wanted = [exemplar_item(segment, code_ids)] if code_ids else []
    stored = store.get(ref, ids=[segment.id])
    return apply_plan(plan_index(wanted, stored), ref, embedder, store, batch_size=INDEX_BATCH_SIZE)


def _segment_metadata(segment: Segment) -> Metadata:
    return _without_none(
        {
            "source_id": segment.source_id,
            "position": segment.position,
            "start": segment.start,
            "end": segment.end,
            "unit": segment.unit.value,
            "speaker": segment.speaker,
        }
    )


def _without_none(values: dict[str, str | int | None]) -> Metadata:
    # Chroma stores no nulls; an absent key reads back the same as a missing speaker or parent.
    return {key: value for key, value in values.items() if value is not None}


def _record(item: IndexItem, embedding: Sequence[float]) -> VectorRecord:
    return VectorRecord(id=item.id, embedding=embedding, document=item.text, metadata=item.stored_metadata())
