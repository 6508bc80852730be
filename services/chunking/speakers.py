"""Find speaker turns in a plain-text transcript.

A speaker label is a short name at the start of a line followed by a colon, optionally in
markdown bold and with a timestamp before or after it::

    Interviewer: So how did it start?
    [00:12:31] P3: It started with the budget.
    **Sara**: (00:12) Yes.
    مصاحبه‌گر: از کجا شروع شد؟

Well-known interview labels (Interviewer, I, R, P3, Q, A, Participant 4, مصاحبه‌گر, ...) and
caller-supplied patterns count from their first occurrence. Any other name ("Maryam",
"Dr. Smith") is only taken as a speaker if the same name labels at least two lines, is at most
four words and 40 characters, starts with a capital (or a caseless script such as Persian)
and is not a document-header word such as "Note" or "Date". This keeps a stray
"Note: the budget..." from becoming a speaker.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import NamedTuple

_TIMESTAMP = r"[\[(]\d{1,2}(?::\d{2}){1,2}(?:[.,]\d{1,3})?[\])]"
_BOLD = r"(?:\*\*|__)?"
_BEFORE_NAME = rf"^[ \t]*(?:(?P<ts_before>{_TIMESTAMP})[ \t]*)?{_BOLD}"
# The colon may be full-width; after it no '/' (a URL) or digit (a clock time, "Time:10:30").
_AFTER_NAME = (
    rf"{_BOLD}(?:[ \t]*(?P<ts_label>{_TIMESTAMP}))?[ \t]*[:\uff1a]{_BOLD}(?![/\d])"
    rf"(?:[ \t]*(?P<ts_after>{_TIMESTAMP}))?[ \t]*"
)

_WELL_KNOWN_NAMES = (
    r"(?i:interviewer|interviewee|moderator|facilitator|respondent|participant|speaker)(?:[ \t]?\d{1,3})?",
    r"[PRI][ \t]?\d{1,3}|[IRQA]",
    r"مصاحبه[\u200c ]?(?:گر|[کك]ننده|شونده)",
    r"(?:پاسخ[\u200c ]?(?:گو|دهنده)|مشار[کك]ت[\u200c ]?[کك]ننده)(?:[ \t]?\d{1,3})?",
    r"[سج]",  # سؤال / جواب: the Persian Q: and A:
)
# A letter, then letters, digits, apostrophes, dots, hyphens or ZWNJ (no '_': it may close __bold__).
_WORD = r"[^\W\d_](?:[^\W_]|['\u2019.\-\u200c])*"
_ANY_NAME = rf"{_WORD}(?:[ \t]+{_WORD}){{0,3}}"

_MAX_LABEL_CHARS = 40
_MAX_LABEL_WORDS = 4
_NOT_SPEAKERS = frozenset(
    {
        "note", "notes", "nb", "ps", "example", "source", "date", "time", "location", "place",
        "duration", "subject", "topic", "title", "summary", "keywords", "from", "to", "cc",
        "توجه", "یادداشت", "تاریخ", "مکان", "مدت", "موضوع",
    }
)  # fmt: skip


class Label(NamedTuple):
    """A speaker label found in the text."""

    line_start: int  # where the label's line begins: the previous turn ends here
    end: int  # just after the label and its timestamp: what was said starts here
    speaker: str
    timestamp: str | None  # as written, without brackets, e.g. "00:12:31"


class Turn(NamedTuple):
    """A stretch of text said by one speaker (None: text before the first label).

    The span is raw: it may begin or end with whitespace, or even be only whitespace.
    """

    start: int
    end: int
    speaker: str | None
    timestamp: str | None


def compile_speaker_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a caller-supplied regex for the label *name* (e.g. r"Moderator \\d+") into a line pattern.

    Timestamps, bold markers and the colon around the name are handled as for the built-in labels.
    Raises ValueError with a readable message if the regex is invalid.
    """
    try:
        return re.compile(_BEFORE_NAME + f"(?P<speaker>{pattern})" + _AFTER_NAME, re.MULTILINE)
    except re.error as error:
        raise ValueError(f"invalid speaker pattern {pattern!r}: {error}") from error


_WELL_KNOWN = tuple(compile_speaker_pattern(name) for name in _WELL_KNOWN_NAMES)
_WELL_KNOWN_NAME = re.compile("|".join(_WELL_KNOWN_NAMES))
_ANY = compile_speaker_pattern(_ANY_NAME)


def is_plausible_label(label: str) -> bool:
    """True if ``label`` could be a person's name or role rather than an ordinary phrase."""
    return (
        0 < len(label) <= _MAX_LABEL_CHARS
        and len(label.split()) <= _MAX_LABEL_WORDS
        and not label[0].islower()
        and label.casefold().rstrip(".") not in _NOT_SPEAKERS
    )


def _label(match: re.Match[str]) -> Label:
    stamp = match["ts_before"] or match["ts_label"] or match["ts_after"]
    return Label(match.start(), match.end(), match["speaker"], stamp[1:-1] if stamp else None)


def find_labels(text: str, extra_patterns: Sequence[str] = ()) -> list[Label]:
    """Return the speaker labels in ``text`` in order, one per line at most.

    ``extra_patterns`` are name regexes (see ``compile_speaker_pattern``) tried before the
    built-in ones and, like the well-known labels, trusted from their first occurrence.
    """
    by_line: dict[int, Label] = {}
    for pattern in [*map(compile_speaker_pattern, extra_patterns), *_WELL_KNOWN]:
        for match in pattern.finditer(text):
            by_line.setdefault(match.start(), _label(match))

    names = [
        _label(match)
        for match in _ANY.finditer(text)
        if match.start() not in by_line and is_plausible_label(match["speaker"])
    ]
    by_line.update({label.line_start: label for label in drop_one_off_names(names)})
    return sorted(by_line.values())


def drop_one_off_names(labels: Sequence[Label]) -> list[Label]:
    """Keep the labels that are well-known interview labels or whose name labels two lines or more."""
    uses = Counter(label.speaker.casefold() for label in labels)
    return [
        label
        for label in labels
        if _WELL_KNOWN_NAME.fullmatch(label.speaker) or uses[label.speaker.casefold()] >= 2
    ]


def turns_from_labels(text: str, labels: Sequence[Label]) -> list[Turn]:
    """Cut ``text`` into turns: each runs from the end of its label to the next label's line.

    Text before the first label (all of it if there is none) is a turn with speaker None.
    """
    first_label = labels[0].line_start if labels else len(text)
    turns = [Turn(0, first_label, None, None)] if first_label > 0 else []
    for index, label in enumerate(labels):
        end = labels[index + 1].line_start if index + 1 < len(labels) else len(text)
        turns.append(Turn(label.end, end, label.speaker, label.timestamp))
    return turns


def detect_turns(text: str, extra_patterns: Sequence[str] = ()) -> list[Turn]:
    """Find the speaker labels in ``text`` and cut it into turns (see ``turns_from_labels``)."""
    return turns_from_labels(text, find_labels(text, extra_patterns))
