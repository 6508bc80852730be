"""Mask e-mail addresses, phone numbers and participants' names before text leaves the machine.

Pure. The model sees ``[EMAIL]``, ``[PHONE]`` and ``[NAME]`` placeholders, so the quotes it returns
refer to the redacted text; ``Redaction.to_original`` maps their offsets back to the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Eight or more digits (any script: \d matches Persian digits too), optionally grouped by spaces,
# dots, dashes or parentheses and led by "+". Years and percentages are too short to match.
_PHONE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{6,}\d(?!\w)")


@dataclass(frozen=True)
class Replacement:
    """``text[start:end]`` (redacted) stands for ``original[original_start:original_end]``."""

    start: int
    end: int
    original_start: int
    original_end: int


@dataclass(frozen=True)
class Redaction:
    """A redacted text and where its placeholders came from."""

    text: str
    replacements: tuple[Replacement, ...] = ()

    @property
    def redacted(self) -> bool:
        return bool(self.replacements)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the redacted text to the original; a span touching a placeholder grows to
        cover the whole masked original."""
        return self._position(start, is_end=False), self._position(end, is_end=True)

    def _position(self, position: int, *, is_end: bool) -> int:
        shift = 0
        for item in self.replacements:
            if position < item.start or (is_end and position == item.start):
                break
            if position < item.end or (is_end and position == item.end):
                return item.original_end if is_end else item.original_start
            shift = item.original_end - item.end
        return position + shift


class Redactor:
    """Replaces e-mails, phone numbers and the given names (whole words, any case) with placeholders."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        words = sorted({name.strip() for name in names if name.strip()}, key=len, reverse=True)
        patterns = [("[EMAIL]", _EMAIL), ("[PHONE]", _PHONE)]
        if words:
            alternatives = "|".join(re.escape(word) for word in words)
            patterns.append(("[NAME]", re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)))
        self._patterns = patterns

    def redact(self, text: str) -> Redaction:
        spans: list[tuple[int, int, str]] = []
        for placeholder, pattern in self._patterns:
            for match in pattern.finditer(text):
                if not any(match.start() < end and start < match.end() for start, end, _ in spans):
                    spans.append((match.start(), match.end(), placeholder))
        spans.sort()
        parts: list[str] = []
        replacements: list[Replacement] = []
        cursor = length = 0
        for start, end, placeholder in spans:
            parts.append(text[cursor:start])
            length += start - cursor
            replacements.append(Replacement(length, length + len(placeholder), start, end))
            parts.append(placeholder)
            length += len(placeholder)
            cursor = end
        parts.append(text[cursor:])
        return Redaction("".join(parts), tuple(replacements))
