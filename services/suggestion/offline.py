"""The offline suggestion backend: no LLM, only the embedder and the coder's own decisions.

* deductive: every code of the codebook is ranked for each segment by ``learner`` (the code's definition as
  the prior, combined with what the coder's decided units teach, as far as cross-validation on those
  decisions shows it helps); the best few are stored, each flagged whether it is predicted to apply, and
  quoting the sentence of the segment closest to the code;
* inductive: ``keyphrases`` proposes key phrases as labels, quoting the phrase itself. These are much
  weaker than an LLM's labels, and say so in their provenance (``weaker_than_llm``).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from services.chunking.sentences import split_sentences
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import code_text
from services.suggestion.keyphrases import KeyPhrase, extract_keyphrases, label_for
from services.suggestion.learner import LabelledUnit, LearntCoder, cosine, fit_coder
from services.suggestion.models import (
    CandidateCode,
    Mode,
    SegmentSuggestions,
    SuggestedCode,
    SuggestionRequest,
)

OFFLINE_MODEL = "offline-v2"
"""Names the offline method in suggestion ids and provenance; bump it when the scoring changes."""
SHOWN = 5
"""Codes stored (and shown to the researcher) per segment."""


@functools.lru_cache(maxsize=16384)
def _sentence_spans(text: str, language: str) -> tuple[tuple[int, int], ...]:
    """Cached: a segment is suggested for again after every step of learning, and its text never changes."""
    return tuple(split_sentences(text, language))


class _Sentences(NamedTuple):
    spans: list[tuple[int, int]]
    vectors: NDArray[np.float64] | None  # one row per sentence; None for a one-sentence segment


class _Ranking(NamedTuple):
    """The whole codebook scored for a batch of segments."""

    codes: list[CandidateCode]
    code_vectors: NDArray[np.float64]
    coder: LearntCoder
    probabilities: NDArray[np.float64]  # (segments, codes)
    similarity: NDArray[np.float64]  # the prior: cosine between segment and code text
    predicted: list[list[int]]


class FittedCoders:
    """The learnt coders of recent fits, by what they were fitted on: suggesting a project again fits once
    per scope, not once per source (each fit runs dozens of cross-validated scikit-learn fits)."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._found: OrderedDict[str, LearntCoder] = OrderedDict()
        self._lock = threading.Lock()

    def fit(
        self, code_ids: Sequence[str], code_vectors: NDArray[np.float64], units: Sequence[LabelledUnit]
    ) -> LearntCoder:
        """``fit_coder``'s answer, fitted again only for codes or units not seen together before."""
        key = _fingerprint(code_ids, code_vectors, units)
        with self._lock:
            if key in self._found:
                self._found.move_to_end(key)
                return self._found[key]
        coder = fit_coder(code_ids, code_vectors, units)
        with self._lock:
            self._found[key] = coder
            while len(self._found) > self._size:
                self._found.popitem(last=False)
        return coder


def _fingerprint(
    code_ids: Sequence[str], code_vectors: NDArray[np.float64], units: Sequence[LabelledUnit]
) -> str:
    digest = hashlib.sha256("\x1f".join(code_ids).encode())
    digest.update(np.ascontiguousarray(code_vectors, dtype=np.float64).tobytes())
    for unit in units:
        digest.update(np.asarray(unit.embedding, dtype=np.float64).tobytes())
        digest.update("\x1f".join(sorted(unit.code_ids)).encode() + b"\x1e")
    return digest.hexdigest()


class OfflineBackend:
    """``SuggestionBackend`` without a language model, learning from one coder's decided units."""

    backend_name = "offline"
    model = OFFLINE_MODEL

    def __init__(
        self,
        embedder: Embedder,
        decided: Sequence[LabelledUnit] = (),
        *,
        max_suggestions: int = SHOWN,
        labels_per_segment: int = 2,
        fitted: FittedCoders | None = None,
    ) -> None:
        self._embedder = embedder
        self._decided = decided
        self._fitted = fitted or FittedCoders(size=1)
        self._max_suggestions = max_suggestions
        self._labels_per_segment = labels_per_segment

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
        ranking = self._rank(deductive)
        sentences = self._sentences(deductive)
        row = {r.segment_id: i for i, r in enumerate(deductive)}
        return [
            self._inductive(request, phrases[request.segment_id])
            if request.mode is Mode.INDUCTIVE
            else self._deductive(request, ranking, row[request.segment_id], sentences[request.segment_id])
            for request in requests
        ]

    def _rank(self, requests: Sequence[SuggestionRequest]) -> _Ranking | None:
        """Every code of the requests' codebook scored for every segment, by one model fitted once."""
        if not requests:
            return None
        codes = list({c.code_id: c for r in requests for c in (r.codebook or r.candidates)}.values())
        code_vectors = np.asarray(self._embedder.embed_passages([code_text(c) for c in codes]))
        segments = np.asarray(self._embedder.embed_queries([r.text for r in requests]))
        coder = self._fitted.fit([c.code_id for c in codes], code_vectors, self._decided)
        probabilities = coder.probabilities(segments, code_vectors)
        return _Ranking(
            codes=codes,
            code_vectors=code_vectors,
            coder=coder,
            probabilities=probabilities,
            similarity=cosine(segments, code_vectors),
            predicted=coder.predicted(probabilities),
        )

    def _sentences(self, requests: Sequence[SuggestionRequest]) -> dict[str, _Sentences]:
        """Each segment's sentences, and their vectors (embedded in one batch) when there are several."""
        spans = {r.segment_id: list(_sentence_spans(r.text, r.language or "en")) for r in requests}
        several = [r for r in requests if len(spans[r.segment_id]) > 1]
        texts = [r.text[start:end] for r in several for start, end in spans[r.segment_id]]
        vectors = iter(self._embedder.embed_queries(texts) if texts else [])
        result = {r.segment_id: _Sentences(spans[r.segment_id], None) for r in requests}
        for request in several:
            found = [next(vectors) for _ in spans[request.segment_id]]
            result[request.segment_id] = _Sentences(spans[request.segment_id], np.asarray(found))
        return result

    def _deductive(
        self, request: SuggestionRequest, ranking: _Ranking | None, row: int, sentences: _Sentences
    ) -> SegmentSuggestions:
        assert ranking is not None  # a deductive request always gets a ranking
        probabilities = ranking.probabilities[row]
        similarity_ranks = (-ranking.similarity[row]).argsort().argsort() + 1
        predicted = set(ranking.predicted[row])
        coder = ranking.coder
        suggestions = []
        for index in np.argsort(-probabilities, kind="stable")[: self._max_suggestions]:
            code = ranking.codes[int(index)]
            start, end = self._quote(sentences, ranking.code_vectors[int(index)])
            provenance = {
                **self._provenance(request),
                "applies": int(index) in predicted,
                "similarity": round(float(ranking.similarity[row, index]), 4),
                "similarity_rank": int(similarity_ranks[index]),
                "learnt": coder.learnt,
                "calibrated": bool(coder.weights),
                "decided_units": coder.units,
                "cv_mrr_prior": coder.cv_mrr_prior,
                "cv_mrr_learnt": coder.cv_mrr_learnt,
                "threshold": coder.thresholds[int(index)] if coder.thresholds else None,
            }
            suggestions.append(
                SuggestedCode(
                    segment_id=request.segment_id,
                    code_id=code.code_id,
                    confidence=min(1.0, max(0.0, float(probabilities[index]))),
                    rationale=rationale(int(similarity_ranks[index]), len(ranking.codes), coder),
                    quote_start=request.segment_start + start,
                    quote_end=request.segment_start + end,
                    quote_match="exact",
                    provenance=provenance,
                )
            )
        return SegmentSuggestions(
            segment_id=request.segment_id, suggestions=suggestions, none_fits=not predicted
        )

    def _quote(self, sentences: _Sentences, code_vector: NDArray[np.float64]) -> tuple[int, int]:
        """The sentence of the segment closest in meaning to the code (offsets into the segment)."""
        if sentences.vectors is None:
            return sentences.spans[0]
        return sentences.spans[int(np.argmax(sentences.vectors @ code_vector))]

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
            "codebook_id": request.codebook_id,
            "codebook_version": request.codebook_version,
        }


def rationale(similarity_rank: int, codes: int, coder: LearntCoder) -> str:
    """A plain sentence saying what the score rests on."""
    text = f"code text close in meaning to the segment (rank {similarity_rank} of {codes})"
    if coder.learnt:
        return f"{text}, weighed with what your {coder.units} decided segments teach"
    if coder.units:
        return f"{text}; your {coder.units} decided segments do not rank codes better yet"
    return text
