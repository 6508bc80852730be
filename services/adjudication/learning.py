"""How decisions feed back: accepted codings become retrieval exemplars, and accepted/rejected suggestions
train the offline backend (calibration and per-code classifiers)."""

from __future__ import annotations

from groundcode.domain import DecisionKind
from groundcode.queue.ports import FollowUps
from groundcode.storage.decisions import DecisionStore
from groundcode.storage.repository import Repository
from services.adjudication import state
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import index_exemplar
from services.retrieval.vector_store import VectorStore
from services.suggestion.scoring import DecisionExample

PROJECT_WIDE = (DecisionKind.MERGE,)


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
    return []


class StoredDecisionHistory:
    """The project's decisions on deductive suggestions, as training examples for the offline backend:
    an accepted suggestion is a positive example of its code, a rejected or edited one a negative."""

    def __init__(self, repository: Repository, decisions: DecisionStore, embedder: Embedder) -> None:
        self._repository = repository
        self._decisions = decisions
        self._embedder = embedder
        # The offline backend classifies query embeddings of segments, so examples are embedded the same
        # way; kept per process, since a decided segment's text does not change.
        self._vectors: dict[str, list[float]] = {}

    def examples(self, project_id: str) -> list[DecisionExample]:
        verdicts = [
            d
            for d in state.effective(self._decisions.list(project_id))
            if d.kind in (DecisionKind.ACCEPT, DecisionKind.REJECT, DecisionKind.EDIT)
            and d.suggestion
            and d.suggestion.get("mode") == "deductive"
            and d.suggestion.get("code_id")
            and d.segment_id
        ]
        if not verdicts:
            return []
        vectors = self._embeddings(sorted({d.segment_id for d in verdicts if d.segment_id}))
        examples = []
        for d in verdicts:
            assert d.suggestion is not None and d.segment_id is not None
            embedding = vectors.get(d.segment_id)
            if embedding is None:  # the segment was re-chunked away; its text is no longer indexed
                continue
            provenance = d.suggestion.get("provenance") or {}
            raw = provenance.get("raw_score", d.suggestion.get("confidence", 0.0))
            examples.append(
                DecisionExample(
                    embedding=embedding,
                    code_id=str(d.suggestion["code_id"]),
                    accepted=d.kind == DecisionKind.ACCEPT,
                    raw_score=min(1.0, max(0.0, float(raw))),
                )
            )
        return examples

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
