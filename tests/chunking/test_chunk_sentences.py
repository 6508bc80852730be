"""Sentence splitting with exact offsets, and the language guess that picks the rules."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.chunking.language import detect_language
from services.chunking.sentences import split_sentences


def sentences(text: str, language: str) -> list[str]:
    spans = split_sentences(text, language)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start and not text[end:start].strip(), "characters lost between sentences"
    return [text[start:end] for start, end in spans]


def test_english_abbreviations_decimals_and_ellipses() -> None:
    text = (
        "Dr. Smith paid 3.5 percent more in the U.S. last year, e.g. for permits. "
        "Really?! Yes... Then we left."
    )
    assert sentences(text, "en") == [
        "Dr. Smith paid 3.5 percent more in the U.S. last year, e.g. for permits.",
        "Really?!",
        "Yes...",
        "Then we left.",
    ]


def test_unicode_ellipsis_ends_a_sentence_before_a_capital_only() -> None:
    text = "I was… tired. I don't know… Then we left."
    assert sentences(text, "en") == ["I was… tired.", "I don't know…", "Then we left."]


def test_persian_terminators_and_decimals() -> None:
    text = "حدود ۳٫۵ درصد بودجه برای فناوری است. آیا کافی است؟ نه!؟ شاید… بعداً ببینیم. او گفت: نه."
    assert sentences(text, "fa") == [
        "حدود ۳٫۵ درصد بودجه برای فناوری است.",
        "آیا کافی است؟",
        "نه!؟",
        "شاید… بعداً ببینیم.",
        "او گفت: نه.",
    ]


def test_offsets_are_exact_with_emoji_combining_marks_and_odd_whitespace() -> None:
    text = "  Cafe\u0301 opened. 👩🏽‍🔬 She said hi!\n\tNew line here.   "
    assert sentences(text, "en") == ["Cafe\u0301 opened.", "👩🏽‍🔬 She said hi!", "New line here."]


def test_range_arguments_restrict_the_split() -> None:
    text = "Skip this. Keep one. Keep two. Skip that."
    start, end = text.index("Keep"), text.index(" Skip that")
    assert [text[s:e] for s, e in split_sentences(text, "en", start, end)] == ["Keep one.", "Keep two."]


def test_a_long_paragraph_is_split_in_pieces_without_losing_sentences() -> None:
    text = " ".join(f"Sentence number {n} talks about data sharing." for n in range(6000))  # ~280 KB
    started = time.perf_counter()
    spans = split_sentences(text, "en")
    assert time.perf_counter() - started < 20  # pysbd alone needs minutes on one paragraph this long
    assert len(spans) == 6000
    assert all(text[start:end].startswith("Sentence number") for start, end in spans)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The municipality shares data by email.", "en"),
        ("شهرداری داده‌ها را با نامه به اشتراک می‌گذارد. Smart city.", "fa"),
        ("زيرساخت فناوري اطلاعات در شهرداري ضعيف است", "fa"),  # Arabic yeh, as in cp1256 exports
        ("المدينة الذكية تحتاج إلى بنية تحتية قوية وشفافية", "ar"),
        ("Умный город", "und"),
        ("12345 !!!", "und"),
        ("", "und"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_splitting_in_parallel_threads_gives_the_same_sentences() -> None:
    # The chunk stage runs handlers in a thread pool; pysbd segmenters must not be shared between threads.
    texts = [
        f"Interview {index}. Dr. Smith said the budget grew 3.5% in {2000 + index}! Why? "
        "Nobody knew… The portal was slow. مصاحبه‌گر گفت بودجه کم است. آیا قانون کافی است؟ " * 20
        for index in range(24)
    ]
    languages = ["en" if index % 2 else "fa" for index in range(len(texts))]
    sequential = [split_sentences(text, language) for text, language in zip(texts, languages, strict=True)]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(split_sentences, texts, languages))
    assert parallel == sequential
