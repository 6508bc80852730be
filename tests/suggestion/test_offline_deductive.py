"""The offline backend's deductive suggestions: real E5 similarities, relative scoring, exact quotes."""

from __future__ import annotations

import pytest

from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.models import CandidateCode, Exemplar
from services.suggestion.offline import OfflineBackend
from services.suggestion.scoring import fit_z_scores, keep_top, score_candidates, softmax
from tests.suggestion.offline_support import scored_requests

ENGLISH = {
    "The budget was cut again, so we could not pay for the new servers.": "budget",
    "Nobody believes the numbers the ministry publishes any more.": "trust",
    "We still email the files to the land registry and they type them in again.": "sharing",
}
PERSIAN = {
    "بودجه امسال دوباره کم شد و پولی برای خرید سرورهای جدید نداشتیم.": "budget",
    "مردم دیگر به آمارهایی که وزارتخانه منتشر می‌کند اعتماد ندارند.": "trust",
    "هنوز پرونده‌ها را با ایمیل برای اداره ثبت می‌فرستیم و آنجا دوباره تایپ می‌کنند.": "sharing",
}


@pytest.mark.parametrize(("segments", "language"), [(ENGLISH, "en"), (PERSIAN, "fa")])
async def test_clear_segments_get_the_expected_top_code(
    e5: LocalE5Embedder, segments: dict[str, str], language: str
) -> None:
    requests = scored_requests(e5, list(segments), language=language)

    answers = await OfflineBackend(e5).suggest(requests)

    for answer, (text, expected) in zip(answers, segments.items(), strict=True):
        top = answer.suggestions[0]
        assert top.code_id == expected, text
        confidences = [s.confidence for s in answer.suggestions]
        assert confidences == sorted(confidences, reverse=True)
        assert all(0.0 <= c <= 1.0 for c in confidences)
        assert (top.quote_start, top.quote_end) == (10, 10 + len(text))  # one sentence: all of it
        assert top.rationale.startswith("closest codebook entry by meaning (similarity rank 1 of 5)")
        assert top.provenance["calibrated"] is False and top.provenance["backend"] == "offline"


async def test_the_quote_is_the_sentence_closest_to_the_code(e5: LocalE5Embedder) -> None:
    text = "Thank you, that is a good question. The budget was cut again and we could not pay for servers."
    (request,) = scored_requests(e5, [text])

    (answer,) = await OfflineBackend(e5).suggest([request])

    top = answer.suggestions[0]
    assert top.code_id == "budget"
    assert text[top.quote_start - 10 : top.quote_end - 10] == (
        "The budget was cut again and we could not pay for servers."
    )


def test_scores_are_relative_shares_not_cosine_cutoffs() -> None:
    bunched = [0.81, 0.80, 0.79]
    shifted = [0.31, 0.30, 0.29]
    assert softmax(bunched) == pytest.approx(softmax(shifted))
    assert softmax(bunched)[0] > 0.6


def test_exemplar_votes_can_overturn_the_retrieval_order() -> None:
    candidates = [
        CandidateCode(code_id="a", name="A", score=0.820),
        CandidateCode(code_id="b", name="B", score=0.815),
        CandidateCode(code_id="c", name="C", score=0.700),
    ]
    exemplars = [
        Exemplar(text="x", code_ids=["b"], score=0.9),
        Exemplar(text="y", code_ids=["b", "c"], score=0.89),
        Exemplar(text="z", code_ids=["a"], score=0.80),
    ]

    without = score_candidates(candidates, [])
    voted = score_candidates(candidates, exemplars)

    assert [s.code_id for s in without] == ["a", "b", "c"]
    assert [s.code_id for s in voted][:2] == ["b", "a"]
    assert voted[0].votes == 2 and voted[0].similarity_rank == 2
    assert [s.code_id for s in keep_top(voted, limit=3)] == ["b"]  # the others score below half of b


async def test_a_segment_that_fits_far_worse_than_the_rest_gets_none(e5: LocalE5Embedder) -> None:
    texts = [*ENGLISH, *PERSIAN] * 4 + ["Okay."]
    requests = scored_requests(e5, texts)

    answers = await OfflineBackend(e5).suggest(requests)

    assert fit_z_scores([0.8, 0.7, 0.9]) == [0.0, 0.0, 0.0]  # too few segments to compare
    assert answers[-1].none_fits and answers[-1].suggestions == []
    assert all(answer.suggestions for answer in answers[:-1])
