"""How decisions feed back: codings become retrieval exemplars, every answered segment (its codes in
force, or "no code applies") is a training unit of the offline backend, and the latest codings and
rejections are examples in the LLM backend's prompts."""

from __future__ import annotations

import math

from groundcode import state
from groundcode.domain import DecisionKind, Stage
from groundcode.queue.ports import FollowUps
from groundcode.storage.decisions import DecisionStore
from groundcode.storage.repository import Repository
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import index_exemplar
from services.retrieval.vector_store import VectorStore
from services.suggestion.feedback import coder_feedback
from services.suggestion.learner import MIN_UNITS_TO_CALIBRATE, LabelledUnit
from services.suggestion.models import FeedbackExample

PROJECT_WIDE = (DecisionKind.MERGE,)
ANSWERING_KINDS = state.CODING_KINDS | {DecisionKind.NO_CODE}
"""Decisions that answer a segment. A rerank milestone counts the segments a coder has answered at some
point: an undo does not take a milestone back (its rerank has been paid for)."""


def learn_handler(
    repository: Repository, decisions: DecisionStore, embedder: Embedder, store: VectorStore, decision_id: str
) -> FollowUps:
    """The learn stage: bring the exemplars of the segments a decision touched in line with the codings in
    force (any coder's). Idempotent: it recomputes from the decisions, so a redelivery changes nothing."""
    decision = decisions.get(decision_id)
    target = (
        decisions.get(decision.undoes) if decision.kind == DecisionKind.UNDO and decision.undoes else decision
    )
    if target.kind in PROJECT_WIDE:
        history = decisions.list(decision.project_id)
        codings = state.codings(history)
        touched = {c.segment_id for c in codings} | {
            d.segment_id for d in history if d.segment_id and d.kind in state.CODING_KINDS
        }
    else:
        # The segment's own decisions (and the project-wide merges, always included) decide its codings:
        # reading the whole log for every decision made learning cost grow with the project's history.
        touched = {target.segment_id} if target.segment_id else set()
        codings = state.codings(decisions.list(decision.project_id, segment_ids=touched))
    segments = repository.get_segments(sorted(touched))
    for segment_id, segment in segments.items():
        code_ids = sorted({c.code_id for c in codings if c.segment_id == segment_id})
        index_exemplar(embedder, store, decision.project_id, segment, code_ids)
    answered = decisions.segments_decided(decision.project_id, decision.coder_id, ANSWERING_KINDS)
    milestone = rerank_milestone(answered)
    if milestone is None:
        return []
    return [(Stage.RERANK, f"{decision.project_id}:{decision.coder_id}:{milestone}")]


def rerank_milestone(answered: int) -> int | None:
    """Suggest again each time a coder's answered segments grow by about a fifth (4 per doubling), from the
    first few on: often while every answer still changes much, rarely once one more changes little. The
    milestone names the work item, so each is reached (and paid for) once."""
    if answered < MIN_UNITS_TO_CALIBRATE:
        return None
    return math.floor(4 * math.log2(answered))


class StoredDecisionHistory:
    """The coders' answered segments as training units for the offline backend: each segment a coder coded
    (the codes in force) or marked "no code applies", with the segment's embedding."""

    def __init__(self, repository: Repository, decisions: DecisionStore, embedder: Embedder) -> None:
        self._repository = repository
        self._decisions = decisions
        self._embedder = embedder
        # The offline backend ranks query embeddings of segments, so units are embedded the same way;
        # kept per process, since a decided segment's text does not change.
        self._vectors: dict[str, list[float]] = {}

    def decided_units(self, project_id: str) -> dict[str, list[LabelledUnit]]:
        """Per coder, the segments they answered, as training units."""
        answered = state.decided_codes(self._decisions.list(project_id))
        vectors = self._embeddings(sorted({segment_id for _, segment_id in answered}))
        units: dict[str, list[LabelledUnit]] = {}
        for (coder_id, segment_id), codes in answered.items():
            if segment_id in vectors:  # a segment re-chunked away has no text any more
                units.setdefault(coder_id, []).append(
                    LabelledUnit(embedding=vectors[segment_id], code_ids=codes)
                )
        return units

    def feedback(
        self, project_id: str, limit: int, *, pooled: bool
    ) -> dict[str | None, list[FeedbackExample]]:
        """The latest codings and rejections as prompt examples: each coder's own, or (``pooled``, for a
        project whose coders see each other's work) everyone's under ``None``."""
        decisions = self._decisions.list(project_id) if limit else []
        segment_ids = sorted({d.segment_id for d in decisions if d.segment_id})
        texts = {s.id: s.text for s in self._repository.get_segments(segment_ids).values()}
        codebook = self._repository.latest_codebook(project_id) if decisions else None
        names = {code.id: code.name for code in codebook.codes} if codebook else {}
        scopes: list[str | None] = [None]
        if not pooled:
            scopes = [*sorted({d.coder_id for d in decisions})]
        return {
            scope: coder_feedback(decisions, scope, segment_texts=texts, code_names=names, limit=limit)
            for scope in scopes
        }

    def _embeddings(self, segment_ids: list[str]) -> dict[str, list[float]]:
        missing = [segment_id for segment_id in segment_ids if segment_id not in self._vectors]
        if missing:
            segments = self._repository.get_segments(missing)
            found = list(segments.values())
            for segment, vector in zip(
                found, self._embedder.embed_queries([s.text for s in found]), strict=True
            ):
                self._vectors[segment.id] = vector
        return {
            segment_id: self._vectors[segment_id] for segment_id in segment_ids if segment_id in self._vectors
        }
