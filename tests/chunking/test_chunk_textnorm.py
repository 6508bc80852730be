"""The normalised matching view and its map back to original offsets."""

from __future__ import annotations

import random

from groundcode.textnorm import normalize_for_matching, normalized_view_with_map, original_span


def find_in_original(text: str, query: str) -> str:
    """Find ``query`` in ``text`` through the normalised views; return the original characters."""
    view, origin = normalized_view_with_map(text)
    start = view.index(normalize_for_matching(query))
    begin, end = original_span(text, origin, start, start + len(normalize_for_matching(query)))
    return text[begin:end]


def test_persian_variants_digits_diacritics_and_half_spaces() -> None:
    assert normalize_for_matching("يك كتاب") == "یک کتاب"
    assert normalize_for_matching("ى") == "ی"
    assert normalize_for_matching("سال ۱۴۰۲ و ٣٫٥ درصد") == "سال 1402 و 3.5 درصد"
    assert normalize_for_matching("عِلمـــی مُهِمّ") == "علمی مهم"
    assert normalize_for_matching("می‌شوند") == normalize_for_matching("میشوند") == "میشوند"
    assert normalize_for_matching("کتاب\u200c\u200c ها \u200cرا") == "کتاب ها را"


def test_presentation_forms_whitespace_and_case() -> None:
    assert normalize_for_matching("ﻛﺘﺎﺏ") == "کتاب"  # Arabic presentation forms -> letters
    assert normalize_for_matching("Smart  City\n\tE\u0301TAT ﬁle") == "smart city état file"


def test_seed_spellings_match_a_modern_spelling() -> None:
    # Seed 002 is written with Arabic yeh/kaf and without half-spaces, as many exports are.
    seed = "از اینرو هدف اين پژوهش، تصویرپردازی از حکمرانی هوشمند میباشد. فناوریهای نوين مؤثرتر"
    assert find_in_original(seed, "هدف این پژوهش") == "هدف اين پژوهش"
    assert find_in_original(seed, "فناوری‌های نوین") == "فناوریهای نوين"
    assert find_in_original(seed, "می‌باشد") == "میباشد"


def test_map_points_back_to_whole_original_characters() -> None:
    text = "Da\u0301ta  sharing؛ عِلمـی\u200c‌ها 👩🏽‍🔬 ok"
    view, origin = normalized_view_with_map(text)
    assert len(origin) == len(view)
    assert find_in_original(text, "D\u00c1TA sharing") == "Da\u0301ta  sharing"  # composed, casefolded
    assert find_in_original(text, "علمی") == "عِلمـی"
    assert find_in_original(text, "ok") == "ok"


def test_map_is_monotonic_and_in_bounds_for_random_text() -> None:
    rng = random.Random(11)
    alphabet = "aBc é\u0301\u064e\u0640\u200c\u200d ي ك ۱٣٫\n\t 👩🏽ﻛﺘﺎﺏ ﬁ."
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
        view, origin = normalized_view_with_map(text)
        assert len(view) == len(origin)
        assert origin == sorted(origin)
        assert all(0 <= index < len(text) for index in origin)
        for start in range(len(view)):
            begin, end = original_span(text, origin, start, len(view))
            assert 0 <= begin < end <= len(text)
