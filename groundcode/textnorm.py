"""A normalised *view* of text for matching and embedding. Never store it in place of the original.

Persian text arrives in many spellings of the same word: Arabic yeh/kaf (ي ى ك) from old
Windows-1256 exports instead of Persian ی ک, Persian or Arabic-Indic digits, optional
diacritics and tatweel, and half-spaces (ZWNJ, U+200C) that one export keeps and another
loses ("می‌شوند" vs "میشوند"). The view maps all of these to one form:

* NFKC, so presentation forms and compatibility characters become ordinary letters;
* ي ى -> ی and ك -> ک (safe for Persian; ة, hamza forms and the like are left alone);
* Persian and Arabic-Indic digits -> ASCII digits, the Arabic decimal separator (U+066B) -> '.';
* Arabic diacritics (U+064B-U+0652) and tatweel (U+0640) removed;
* ZWNJ and other invisible formatting marks removed, so a word matches with or without its
  half-space;
* every run of whitespace -> one space; everything casefolded.

``normalized_view_with_map`` also says where each character of the view came from, so a match
found in the view can be turned back into exact offsets in the original with ``original_span``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

_CHARACTER_MAP = str.maketrans(
    {
        "ي": "ی",  # Arabic yeh -> Persian yeh
        "ى": "ی",  # Arabic alef maksura -> Persian yeh
        "ك": "ک",  # Arabic kaf -> Persian keheh
        "\u066b": ".",  # Arabic decimal separator
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Persian digits
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    }
)

_REMOVED = frozenset(
    [chr(c) for c in range(0x064B, 0x0653)]  # Arabic harakat (fathatan ... sukun)
    + [
        "\u0640",  # tatweel
        "\u200c",  # zero-width non-joiner (the Persian half-space)
        "\u200b",  # zero-width space
        "\u200e",  # left-to-right mark
        "\u200f",  # right-to-left mark
        "\u061c",  # Arabic letter mark
        "\u00ad",  # soft hyphen
    ]
)


def _clusters(text: str) -> Iterator[tuple[int, str]]:
    """Yield (start index, cluster) where a cluster is a character plus its combining marks.

    NFKC must see a base letter together with its marks (e + U+0301 -> é), so the view is built
    cluster by cluster and every output character is credited to its cluster's first character.
    """
    start = 0
    for index in range(1, len(text) + 1):
        if index == len(text) or not unicodedata.combining(text[index]):
            yield start, text[start:index]
            start = index


def normalized_view_with_map(text: str) -> tuple[str, list[int]]:
    """Return the normalised view of ``text`` and, per view character, its index in ``text``."""
    out: list[str] = []
    origin: list[int] = []
    for start, cluster in _clusters(text):
        normalised = unicodedata.normalize("NFKC", cluster).casefold().translate(_CHARACTER_MAP)
        for char in normalised:
            if char in _REMOVED:
                continue
            if char.isspace():
                if out and out[-1] == " ":
                    continue
                char = " "
            out.append(char)
            origin.append(start)
    return "".join(out), origin


def normalize_for_matching(text: str) -> str:
    """Return the normalised view of ``text`` (see the module docstring for what changes)."""
    return normalized_view_with_map(text)[0]


def _is_droppable_tail(char: str) -> bool:
    # Diacritics are combining marks and belong to the letter before them, so they stay.
    return not unicodedata.combining(char) and (char.isspace() or char in _REMOVED)


def original_span(text: str, origin: list[int], start: int, end: int) -> tuple[int, int]:
    """Map the view span ``[start, end)`` back to ``(start, end)`` in the original ``text``.

    ``origin`` is the map from ``normalized_view_with_map(text)``. The original span ends where
    the next original character that produced view text begins, minus any trailing whitespace
    or invisible marks the view dropped, so it covers whole characters with their diacritics.
    """
    if not 0 <= start < end <= len(origin):
        raise ValueError(f"view span [{start}, {end}) is not inside a view of length {len(origin)}")
    last = origin[end - 1]
    # A view character's origin is shared by everything its cluster produced (é, or "..." from "…").
    original_end = next((origin[i] for i in range(end, len(origin)) if origin[i] > last), len(text))
    while original_end > last + 1 and _is_droppable_tail(text[original_end - 1]):
        original_end -= 1
    return origin[start], original_end
