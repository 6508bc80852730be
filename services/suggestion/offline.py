"""The offline suggestion backend: no LLM, only the embedder, retrieval and the project's decisions.

* deductive: ``scoring`` ranks the request's candidates (retrieval softmax + exemplar kNN votes), keeps
  the top few, and quotes the sentence of the segment closest to each code; a segment whose best code
  fits clearly worse than the other segments' of the batch (``NONE_FITS_Z``) gets none;
* inductive: ``keyphrases`` proposes key phrases as labels, quoting the phrase itself. These are much
  weaker than an LLM's labels, and say so in their provenance (``weaker_than_llm``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from services.chunking.sentences import split_sentences
from services.retrieval.embeddings import Embedder
from services.suggestion.keyphrases import KeyPhrase, extract_keyphrases, label_for
from services.suggestion.models import (
    CandidateCode,
    Mode,
    SegmentSuggestions,
    SuggestedCode,
    SuggestionRequest,
)
from services.suggestion.scoring import (
    NONE_FITS_Z,
    TEMPERATURE,
    DecisionModel,
    ScoredCode,
    fit_z_scores,
    keep_top,
    score_candidates,
)

OFFLINE_MODEL = "offline-v1"
"""Names the offline method in suggestion ids and provenance; bump it when the scoring changes."""


class _Sentences(NamedTuple):
    spans: list[tuple[int, int]]
    vectors: NDArray[np.float64] | None  # one row per sentence; None for a one-sentence segment


class OfflineBackend:
    """``SuggestionBackend`` without a language model."""

    backend_name = "offline"
    model = OFFLINE_MODEL

    def __init__(
        self,
        embedder: Embedder,
        decisions: DecisionModel | None = None,
        *,
        max_suggestions: int = 3,
        labels_per_segment: int = 2,
    ) -> None:
        self._embedder = embedder
        self._decisions = decisions or DecisionModel()
        self._max_suggestions = max_suggestions
        self._labels_per_segment = labels_per_segment
        self._code_vectors: dict[str, list[float]] = {}

    async def suggest(self, requests: Sequence[SuggestionRequest]) -> list[SegmentSuggestions]:
        """Computed in the caller's thread (the stage handler's): it is CPU work, not waiting."""
        inductive = [r for r in requests if r.mode is Mode.INDUCTIVE]
        phrases = dict(
            zip(
                (r.segment_id for r in inductive),
                extract_keyphrases([r.text for r in inductive], limit=self._labels_per_segment),
                strict=True,
            )
        )
        deductive = [r for r in requests if r.mode is Mode.DEDUCTIVE]
        embeddings = self._segment_embeddings(deductive)
        sentences = self._sentences(deductive)
        best = [max(c.score or 0.0 for c in r.candidates) for r in deductive]
        fit = dict(zip((r.segment_id for r in deductive), fit_z_scores(best), strict=True))
        results = []
        for request in requests:
            if request.mode is Mode.INDUCTIVE:
                results.append(self._inductive(request, phrases[request.segment_id]))
            elif fit[request.segment_id] < NONE_FITS_Z:
                results.append(
                    SegmentSuggestions(segment_id=request.segment_id, suggestions=[], none_fits=True)
                )
            else:
                results.append(
                    self._deductive(
                        request,
                        embeddings.get(request.segment_id),
                        fit[request.segment_id],
                        sentences[request.segment_id],
                    )
                )
        return results

    def _sentences(self, requests: Sequence[SuggestionRequest]) -> dict[str, _Sentences]:
        """Each segment's sentences, and their vectors (embedded in one batch) when there are several."""
        spans = {r.segment_id: split_sentences(r.text, r.language or "en") for r in requests}
        several = [r for r in requests if len(spans[r.segment_id]) > 1]
        texts = [r.text[start:end] for r in several for start, end in spans[r.segment_id]]
        vectors = iter(self._embedder.embed_queries(texts) if texts else [])
        result = {r.segment_id: _Sentences(spans[r.segment_id], None) for r in requests}
        for request in several:
            found = [next(vectors) for _ in spans[request.segment_id]]
            result[request.segment_id] = _Sentences(spans[request.segment_id], np.asarray(found))
        return result

    def _segment_embeddings(self, requests: Sequence[SuggestionRequest]) -> dict[str, list[float]]:
        """Segment vectors for the classifiers; only embedded when a classifier has been trained."""
        if not self._decisions.classifiers or not requests:
            return {}
        vectors = self._embedder.embed_queries([r.text for r in requests])
        return {r.segment_id: v for r, v in zip(requests, vectors, strict=True)}

    def _deductive(
        self, request: SuggestionRequest, embedding: list[float] | None, fit_z: float, sentences: _Sentences
    ) -> SegmentSuggestions:
        kept = keep_top(score_candidates(request.candidates, request.exemplars), limit=self._max_suggestions)
        candidates = {c.code_id: c for c in request.candidates}
        adjusted = [(s, *self._decisions.adjust(s.code_id, s.raw, embedding)) for s in kept]
        adjusted.sort(key=lambda item: -item[2])
        suggestions = []
        for scored, raw, confidence in adjusted:
            start, end = self._quote(sentences, candidates[scored.code_id])
            provenance = {
                **self._provenance(request),
                "raw_score": round(raw, 4),
                "retrieval_share": round(scored.retrieval, 4),
                "knn_share": round(scored.knn, 4),
                "similarity_rank": scored.similarity_rank,
                "fit_z": round(fit_z, 3),
                "exemplar_votes": scored.votes,
                "classifier": scored.code_id in self._decisions.classifiers and embedding is not None,
                "temperature": TEMPERATURE,
            }
            suggestions.append(
                SuggestedCode(
                    segment_id=request.segment_id,
                    code_id=scored.code_id,
                    confidence=min(1.0, max(0.0, confidence)),
                    rationale=rationale(scored, len(request.candidates)),
                    quote_start=request.segment_start + start,
                    quote_end=request.segment_start + end,
                    quote_match="exact",
                    provenance=provenance,
                )
            )
        return SegmentSuggestions(segment_id=request.segment_id, suggestions=suggestions)

    def _quote(self, sentences: _Sentences, code: CandidateCode) -> tuple[int, int]:
        """The sentence of the segment closest in meaning to the code (offsets into the segment)."""
        if sentences.vectors is None:
            return sentences.spans[0]
        if code.code_id not in self._code_vectors:
            text = "\n".join(part for part in (code.name, code.definition, code.inclusion) if part)
            self._code_vectors[code.code_id] = self._embedder.embed_passages([text])[0]
        return sentences.spans[
            int(np.argmax(sentences.vectors @ np.asarray(self._code_vectors[code.code_id])))
        ]

    def _inductive(self, request: SuggestionRequest, phrases: Sequence[KeyPhrase]) -> SegmentSuggestions:
        suggestions = [
            SuggestedCode(
                segment_id=request.segment_id,
                proposed_label=label_for(phrase),
                # Relative to the segment's best phrase, and never above 0.5: these are weak guesses.
                confidence=round(0.5 * phrase.score / phrases[0].score, 4),
                rationale=f"key phrase of this segment (rank {rank} of {len(phrases)}, by rarity across "
                "the source); offline open coding is weaker than an LLM's",
                quote_start=request.segment_start + phrase.start,
                quote_end=request.segment_start + phrase.end,
                quote_match="exact",
                provenance={
                    **self._provenance(request),
                    "weaker_than_llm": True,
                    "phrase_score": phrase.score,
                },
            )
            for rank, phrase in enumerate(phrases, start=1)
        ]
        return SegmentSuggestions(segment_id=request.segment_id, suggestions=suggestions)

    def _provenance(self, request: SuggestionRequest) -> dict[str, Any]:
        return {
            "backend": self.backend_name,
            "model": self.model,
            "mode": request.mode.value,
            "calibrated": self._decisions.calibrator is not None,
            "decisions": self._decisions.decisions,
            "codebook_id": request.codebook_id,
            "codebook_version": request.codebook_version,
        }


def rationale(scored: ScoredCode, candidates: int) -> str:
    """A plain sentence saying what the score rests on."""
    text = f"closest codebook entry by meaning (similarity rank {scored.similarity_rank} of {candidates})"
    if scored.similarity_rank > 1:
        text = f"codebook entry close in meaning (similarity rank {scored.similarity_rank} of {candidates})"
    if scored.votes:
        plural = "segments carry" if scored.votes > 1 else "segment carries"
        text += f"; {scored.votes} similar coded {plural} this code"
    return text
