"""Offline open coding: key phrases as labels (English and Persian) and merging near-duplicates."""

from __future__ import annotations

from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.keyphrases import extract_keyphrases, label_for, merge_labels
from services.suggestion.models import Mode
from services.suggestion.offline import OfflineBackend
from tests.suggestion.offline_support import scored_requests

TEXTS = [
    "Honestly, the building permit software is older than some of my staff.",
    "زیرساخت مرکزی نسبتاً خوب است، اما اینترنت دفاتر مناطق هنوز پایدار نیست.",
    "We proposed a single infrastructure budget for the whole municipality.",
]


def test_key_phrases_are_content_words_with_exact_offsets() -> None:
    found = extract_keyphrases(TEXTS)

    for text, phrases in zip(TEXTS, found, strict=True):
        assert phrases, text
        for phrase in phrases:
            assert text[phrase.start : phrase.end] == phrase.text
    labels = [[label_for(p) for p in phrases] for phrases in found]
    assert "Building permit software" in labels[0]
    assert any("اینترنت" in label or "زیرساخت" in label for label in labels[1])
    assert not any(label.lower() in {"honestly", "the", "است"} for row in labels for label in row)


def test_spelling_variants_and_near_duplicates_merge(e5: LocalE5Embedder) -> None:
    counts = {
        "Budget cuts": 3,
        "budget  cuts": 1,
        "Cuts to the budget": 1,
        "Citizen complaints": 2,
        "Permit software": 2,
        "Legal basis": 1,
        "Staff training": 1,
        "تبادل داده": 2,
        "تبادل‌داده": 1,
    }
    vectors = dict(zip(counts, e5.embed_passages(list(counts)), strict=True))

    merged = merge_labels(counts, vectors)

    assert merged["budget  cuts"] == "Budget cuts"
    assert merged["Cuts to the budget"] == "Budget cuts"
    assert merged["تبادل‌داده"] == "تبادل داده"
    assert len(set(merged.values())) == 6
    assert merged["Citizen complaints"] == "Citizen complaints"


async def test_offline_labels_say_they_are_weaker_than_an_llm(e5: LocalE5Embedder) -> None:
    requests = scored_requests(e5, TEXTS, mode=Mode.INDUCTIVE)

    answers = await OfflineBackend(e5).suggest(requests)

    for request, answer in zip(requests, answers, strict=True):
        assert answer.suggestions
        for suggestion in answer.suggestions:
            assert suggestion.proposed_label and suggestion.code_id is None
            assert suggestion.provenance["weaker_than_llm"] is True
            assert 0.0 < suggestion.confidence <= 0.5
            start, end = suggestion.quote_start - 10, suggestion.quote_end - 10
            assert request.text[start:end].lower() == suggestion.proposed_label.lower()
