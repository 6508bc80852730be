"""The offline backend's deductive suggestions: real E5 similarities, relative scoring, exact quotes."""

from __future__ import annotations

import pytest

from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.learner import LabelledUnit
from services.suggestion.offline import OfflineBackend
from tests.suggestion.offline_support import CODES, scored_requests

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
        assert top.rationale == "code text close in meaning to the segment (rank 1 of 5)"
        assert top.provenance["calibrated"] is False and top.provenance["backend"] == "offline"
        assert top.provenance["applies"] is True  # before any decision: the best code is the guess
        assert not any(s.provenance["applies"] for s in answer.suggestions[1:])


async def test_the_quote_is_the_sentence_closest_to_the_code(e5: LocalE5Embedder) -> None:
    text = "Thank you, that is a good question. The budget was cut again and we could not pay for servers."
    (request,) = scored_requests(e5, [text])

    (answer,) = await OfflineBackend(e5).suggest([request])

    top = answer.suggestions[0]
    assert top.code_id == "budget"
    assert text[top.quote_start - 10 : top.quote_end - 10] == (
        "The budget was cut again and we could not pay for servers."
    )


async def test_every_code_is_ranked_and_five_are_kept(e5: LocalE5Embedder) -> None:
    """No trimming to a few "confident" codes: the researcher sees the five best of the whole codebook,
    even for a segment that fits none of them well."""
    requests = scored_requests(e5, ["Okay.", "The budget was cut again."])

    answers = await OfflineBackend(e5).suggest(requests)

    assert [len(answer.suggestions) for answer in answers] == [5, 5]
    assert {s.code_id for s in answers[0].suggestions} == {c.code_id for c in CODES}


async def test_decided_units_teach_a_code_its_name_does_not_say(e5: LocalE5Embedder) -> None:
    """The coder keeps coding complaints about paper forms as "skills"; the definition says training.
    After enough decided units, the backend ranks "skills" first for a new paper-form complaint."""
    paper = [
        "We still fill in paper forms and carry them to the next office.",
        "Every request is a printed form that someone stamps by hand.",
        "The citizens bring paper copies and we scan them one by one.",
        "Our archive is shelves of paper folders, nothing is digital.",
        "A form gets lost between offices at least once a week.",
        "They print the email, sign it and fax it back to us.",
        "Every permit still needs three stamped paper copies.",
        "We type the handwritten forms into the system at night.",
        "The clerk walks the folder to the other building for a signature.",
        "Applications arrive by post and wait in a paper tray for weeks.",
    ]
    other = {
        "The budget was cut again, so we could not pay for the new servers.": "budget",
        "Nobody believes the numbers the ministry publishes any more.": "trust",
        "We email the files to the land registry and they type them in again.": "sharing",
        "The law does not say who owns the data, so nobody shares it.": "legal",
        "Money for the project ran out after the first year.": "budget",
        "People doubt that the officials publish honest figures.": "trust",
    }
    texts = [*paper, *other]
    vectors = e5.embed_queries(texts)
    codes = ["skills"] * len(paper) + list(other.values())
    decided = [
        LabelledUnit(embedding=v, code_ids=frozenset({c})) for v, c in zip(vectors, codes, strict=True)
    ]
    new = scored_requests(e5, ["Half of our work is still moving printed forms around by hand."])

    (before,) = await OfflineBackend(e5).suggest(new)
    (after,) = await OfflineBackend(e5, decided).suggest(new)

    assert before.suggestions[0].code_id != "skills"
    assert after.suggestions[0].code_id == "skills"
    assert after.suggestions[0].provenance["learnt"] is True
    assert after.suggestions[0].provenance["decided_units"] == len(decided)
    assert "decided segments teach" in after.suggestions[0].rationale
