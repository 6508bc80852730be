"""Sentence splitting for English and Persian with exact character offsets.

pysbd decides where sentences end (abbreviations such as "Dr." and "e.g.", decimals such as
3.5 and its Persian form, ellipses). Its own character spans are unreliable, so each sentence
it returns is found again in the original text by a forward search; text pysbd skipped is
attached to the next sentence and anything it altered ends the search, the remainder becoming
one sentence. Characters are therefore never lost or duplicated.

In Persian, "…" usually marks a pause inside a sentence and has no capital after it to tell
otherwise, so it only ends a sentence where pysbd says so (in practice: at a line end).

On top of pysbd: a piece with no letters or digits (pysbd splits "!؟" in two) joins the
sentence before it; a sentence ending in ':' joins the next one (pysbd's Persian rules end
sentences at colons); and "…" ends a sentence when a capital letter follows, as "..." does.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import pysbd

# pysbd slows down super-linearly on long inputs (a 200 KB paragraph takes ~25 s, 10 KB ~0.1 s),
# so long paragraphs are fed to it in pieces of about this size.
_MAX_PYSBD_CHARS = 5_000
_PYSBD_LANGUAGES = frozenset({"en", "fa", "ar"})
_ELLIPSIS_THEN_CAPITAL = re.compile(r"…(?=\s+[^\W\d_])")
_COLONS = ":\uff1a"  # ASCII and full-width
_ZERO_WIDTH_JOINER = "\u200d"
_EMOJI_PRESENTATION = "\ufe0f"
_EMOJI_MODIFIERS = range(0x1F3FB, 0x1F400)  # skin tones

Span = tuple[int, int]


_per_thread = threading.local()


def _segmenter(language: str) -> pysbd.Segmenter:
    # One segmenter per thread and language: a pysbd.Segmenter keeps the text it is working on in
    # instance attributes, so sharing one between the chunk stage's worker threads mixes up texts.
    segmenters: dict[str, pysbd.Segmenter] = _per_thread.__dict__.setdefault("segmenters", {})
    if language not in segmenters:
        pysbd_language = language if language in _PYSBD_LANGUAGES else "en"
        segmenters[language] = pysbd.Segmenter(language=pysbd_language, clean=False)
    return segmenters[language]


def _skip_space(text: str, position: int, end: int) -> int:
    while position < end and text[position].isspace():
        position += 1
    return position


def trim_span(text: str, start: int, end: int) -> Span:
    """Shrink ``[start, end)`` to exclude surrounding whitespace (empty if it is all whitespace)."""
    start = _skip_space(text, start, end)
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _splits_cluster(text: str, position: int) -> bool:
    """True if cutting before ``text[position]`` would tear a character from its accents or emoji parts."""
    char = text[position]
    return (
        unicodedata.category(char) in ("Mn", "Mc", "Me")
        or char in (_ZERO_WIDTH_JOINER, _EMOJI_PRESENTATION)
        or ord(char) in _EMOJI_MODIFIERS
        or text[position - 1] == _ZERO_WIDTH_JOINER
    )


def cut_point(text: str, floor: int, limit: int) -> int:
    """Where to cut text that must be cut after ``floor`` and at or before ``limit`` (< len(text)).

    At the last whitespace if there is one; otherwise as late as possible without separating a
    character from its combining marks or breaking an emoji sequence.
    """
    for position in range(limit, floor, -1):
        if text[position].isspace():
            return position
    position = limit
    while position > floor + 1 and _splits_cluster(text, position):
        position -= 1
    return position


def _locate(text: str, start: int, end: int, sentences: list[str]) -> list[Span]:
    """Find pysbd's ``sentences`` in ``text[start:end]``, in order, as exact trimmed spans."""
    spans: list[Span] = []
    position = start
    for sentence in sentences:
        wanted = sentence.strip()
        if not wanted:
            continue
        position = _skip_space(text, position, end)
        found = text.find(wanted, position, end)
        if found < 0:
            break
        spans.append((position, found + len(wanted)))
        position = found + len(wanted)
    rest = trim_span(text, position, end)
    if rest[0] < rest[1]:
        spans.append(rest)
    return spans


def _pysbd_spans(text: str, start: int, end: int, language: str) -> list[Span]:
    spans: list[Span] = []
    position = _skip_space(text, start, end)
    while position < end:
        piece_end = (
            end
            if end - position <= _MAX_PYSBD_CHARS
            else cut_point(text, position, position + _MAX_PYSBD_CHARS)
        )
        found = _locate(text, position, piece_end, _segmenter(language).segment(text[position:piece_end]))
        if piece_end < end and len(found) > 1:
            found.pop()  # the piece boundary may have cut this sentence; read it again with what follows
        spans += found
        position = _skip_space(text, found[-1][1], end)
    return spans


def _has_word_character(text: str, start: int, end: int) -> bool:
    return any(char.isalnum() for char in text[start:end])


def _join_fragments(text: str, spans: list[Span]) -> list[Span]:
    joined: list[Span] = []
    open_colon = False
    for start, end in spans:
        if joined and (open_colon or not _has_word_character(text, start, end)):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
        open_colon = text[end - 1] in _COLONS
    return joined


def _split_at_ellipses(text: str, spans: list[Span]) -> list[Span]:
    result: list[Span] = []
    for start, end in spans:
        for match in _ELLIPSIS_THEN_CAPITAL.finditer(text, start, end):
            following = _skip_space(text, match.end(), end)
            if text[following].isupper():
                result.append((start, match.end()))
                start = following
        result.append((start, end))
    return result


def split_sentences(text: str, language: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Split ``text[start:end]`` into sentences; return their exact (start, end) offsets in ``text``.

    Spans are sorted, non-overlapping, never empty and trimmed of surrounding whitespace;
    together they cover every non-whitespace character of the range. ``language`` is an
    ISO 639-1 code; languages pysbd does not know are split with the English rules.
    """
    end = len(text) if end is None else end
    return _split_at_ellipses(text, _join_fragments(text, _pysbd_spans(text, start, end, language)))
