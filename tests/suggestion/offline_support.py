"""Requests for the offline backend with real retrieval scores, computed without a vector store."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.retrieval.embeddings import Embedder
from services.suggestion.models import CandidateCode, Exemplar, Mode, SuggestionRequest

CODES = [
    CandidateCode(
        code_id="budget",
        name="Budget constraints",
        definition="Lack of money or budget rules that hinder digital projects.",
    ),
    CandidateCode(
        code_id="trust",
        name="Trust",
        definition="Confidence of citizens in institutions, officials and the data they publish.",
    ),
    CandidateCode(
        code_id="sharing",
        name="Inter-agency data sharing",
        definition="How data moves between agencies: email, re-typing, shared interfaces.",
    ),
    CandidateCode(
        code_id="legal",
        name="Legal barriers",
        definition="Laws and legal uncertainty that block cooperation.",
    ),
    CandidateCode(
        code_id="skills",
        name="Digital skills",
        definition="Training and skills of staff to use digital systems.",
    ),
]


def scored_requests(
    embedder: Embedder,
    texts: Sequence[str],
    *,
    language: str = "en",
    exemplars: Sequence[Exemplar] = (),
    mode: Mode = Mode.DEDUCTIVE,
) -> list[SuggestionRequest]:
    """A request per text (its own source, starting at offset 10), candidates scored by cosine similarity."""
    queries = np.asarray(embedder.embed_queries(texts))
    code_texts = [f"{c.name}\n{c.definition}" for c in CODES]
    codes = np.asarray(embedder.embed_passages(code_texts))
    similarity = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ (
        codes / np.linalg.norm(codes, axis=1, keepdims=True)
    ).T
    return [
        SuggestionRequest(
            segment_id=f"seg-{index}",
            segment_start=10,
            text=text,
            language=language,
            mode=mode,
            candidates=[c.model_copy(update={"score": float(s)}) for c, s in zip(CODES, row, strict=True)]
            if mode is Mode.DEDUCTIVE
            else [],
            exemplars=list(exemplars),
            codebook_id="book",
            codebook_version=1,
        )
        for index, (text, row) in enumerate(zip(texts, similarity, strict=True))
    ]
