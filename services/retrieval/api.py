"""HTTP API of the retrieval service: candidate codes for segments, similar coded segments, free-text search.

Each search has a GET for one segment or query and a POST for a batch (one ranked list per item); the POSTs
only read, so viewers may call them too. Blind coding applies: while coders do not see each other's work,
similar segments are a member's own coded segments with their own codes, and candidate codes leave out the
other coders' new codes not approved yet.
"""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import Field, model_validator

from groundcode import state
from groundcode.app import Groundcode
from groundcode.auth import ProjectReader
from groundcode.domain import Access, Model
from groundcode.http import GroundcodeDep, build_app
from groundcode.settings import Settings
from services.retrieval.embeddings import Embedder
from services.retrieval.search import (
    CodeCandidate,
    ExemplarFilter,
    SegmentFilter,
    SegmentHit,
    candidate_codes,
    search,
    segment_texts,
    similar_segments,
)
from services.retrieval.vector_store import VectorStore

MAX_BATCH = 1000
K = Annotated[int, Query(ge=1, le=200)]


def get_embedder(groundcode: GroundcodeDep) -> Embedder:
    return groundcode.embedder


def get_vector_store(groundcode: GroundcodeDep) -> VectorStore:
    return groundcode.vector_store


EmbedderDep = Annotated[Embedder, Depends(get_embedder)]
VectorStoreDep = Annotated[VectorStore, Depends(get_vector_store)]


class Probes(Model):
    """A batch given either as texts or as ids of indexed segments (whose texts are then used)."""

    texts: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    segment_ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH)
    k: int = Field(default=10, ge=1, le=200)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Self:
        if bool(self.texts) == bool(self.segment_ids):
            raise ValueError("give either texts or segment_ids (not both, not neither)")
        return self


class CandidateCodesRequest(Probes):
    codebook: str | None = None
    codebook_version: int | None = Field(default=None, ge=1)


class SimilarSegmentsRequest(Probes):
    filters: ExemplarFilter = Field(default_factory=ExemplarFilter)


class SearchRequest(Model):
    queries: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    k: int = Field(default=10, ge=1, le=200)
    filters: SegmentFilter = Field(default_factory=SegmentFilter)


router = APIRouter(tags=["retrieval"])


@router.get("/projects/{project}/segments/{segment_id}/candidate-codes")
def segment_candidate_codes(
    who: ProjectReader,
    segment_id: str,
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
    k: K = 10,
    codebook: str | None = None,
    codebook_version: Annotated[int | None, Query(ge=1)] = None,
) -> list[CodeCandidate]:
    """The codes closest in meaning to an indexed segment, best first."""
    request = CandidateCodesRequest(
        segment_ids=[segment_id], k=k, codebook=codebook, codebook_version=codebook_version
    )
    return batch_candidate_codes(who, request, groundcode, embedder, store)[0]


@router.post("/projects/{project}/candidate-codes")
def batch_candidate_codes(
    who: ProjectReader,
    request: CandidateCodesRequest,
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
) -> list[list[CodeCandidate]]:
    """Candidate codes for each text or segment of a batch."""
    project_id = who.project.id
    texts = request.texts or segment_texts(embedder, store, project_id, request.segment_ids)
    hidden = groundcode.adjudication.hidden_codes(who)
    found = candidate_codes(
        embedder,
        store,
        project_id,
        texts,
        k=request.k + len(hidden),
        codebook=request.codebook,
        codebook_version=request.codebook_version,
    )
    return [[hit for hit in hits if hit.code_id not in hidden][: request.k] for hits in found]


@router.get("/projects/{project}/segments/{segment_id}/similar")
def segment_similar_segments(
    who: ProjectReader,
    segment_id: str,
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
    k: K = 10,
    source_id: Annotated[list[str] | None, Query()] = None,
    speaker: Annotated[list[str] | None, Query()] = None,
    code_id: str | None = None,
) -> list[SegmentHit]:
    """Already-coded segments most like an indexed segment (itself excluded), with their codes."""
    filters = ExemplarFilter(source_ids=source_id or [], speakers=speaker or [], code_id=code_id)
    request = SimilarSegmentsRequest(segment_ids=[segment_id], k=k, filters=filters)
    return batch_similar_segments(who, request, groundcode, embedder, store)[0]


@router.post("/projects/{project}/similar-segments")
def batch_similar_segments(
    who: ProjectReader,
    request: SimilarSegmentsRequest,
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
) -> list[list[SegmentHit]]:
    """Similar coded segments for each text or segment of a batch (a segment never matches itself)."""
    project_id = who.project.id
    texts = request.texts or segment_texts(embedder, store, project_id, request.segment_ids)
    excluded: list[str | None] = list(request.segment_ids) or [None] * len(texts)
    own = _own_codes(who, groundcode)
    code_id = request.filters.code_id
    within = None if own is None else [s for s, codes in own.items() if code_id is None or code_id in codes]
    found = similar_segments(
        embedder,
        store,
        project_id,
        texts,
        k=request.k,
        filters=request.filters,
        exclude_segment_ids=excluded,
        within=within,
    )
    if own is None:
        return found
    # Exemplars carry every coder's accepted codes: while coding is blind, a member sees only their own.
    return [
        [hit.model_copy(update={"code_ids": sorted(own[hit.segment_id])}) for hit in hits] for hits in found
    ]


def _own_codes(who: Access, groundcode: Groundcode) -> dict[str, set[str]] | None:
    """Blind coding: the member's own codes per segment they coded; ``None`` if they may see every coder's."""
    project = who.project
    if state.can_see_others(who.role, blind=project.blind, revealed=project.revealed):
        return None
    own: dict[str, set[str]] = {}
    for coding in state.codings(groundcode.adjudication.visible_decisions(who)):
        if coding.coder_id == who.user.id:
            own.setdefault(coding.segment_id, set()).add(coding.code_id)
    return own


@router.get("/projects/{project}/search")
def search_segments(
    who: ProjectReader,
    q: Annotated[str, Query(min_length=1)],
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
    k: K = 10,
    source_id: Annotated[list[str] | None, Query()] = None,
    speaker: Annotated[list[str] | None, Query()] = None,
) -> list[SegmentHit]:
    """Segments matching a free-text query by meaning, in any language."""
    filters = SegmentFilter(source_ids=source_id or [], speakers=speaker or [])
    return batch_search(who, SearchRequest(queries=[q], k=k, filters=filters), groundcode, embedder, store)[0]


@router.post("/projects/{project}/search")
def batch_search(
    who: ProjectReader,
    request: SearchRequest,
    groundcode: GroundcodeDep,
    embedder: EmbedderDep,
    store: VectorStoreDep,
) -> list[list[SegmentHit]]:
    """Free-text search for each query of a batch."""
    project_id = who.project.id
    return search(embedder, store, project_id, request.queries, k=request.k, filters=request.filters)


def create_app(settings: Settings, *, run_workers: bool = True) -> FastAPI:
    """The retrieval service app; with ``run_workers`` its queue workers run in the same process."""
    return build_app(
        settings,
        title="groundcode retrieval service",
        description="Candidate codes for segments, similar coded segments and free-text search, by meaning.",
        routers=[router],
        run_workers=run_workers,
    )
