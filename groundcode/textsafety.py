"""Checks on imported text that no reader should skip: control characters, and names that look alike."""

from __future__ import annotations

import re
import unicodedata

# C0 controls but tab, line feed and carriage return; DEL; C1 controls (often the trace of mojibake).
_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(text: str) -> str | None:
    """A phrase naming the first control character (other than tab and line breaks) and its line, or None."""
    found = _CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    return f"line {line} holds the control character U+{ord(found.group()):04X}"


def lookalike_key(name: str) -> str:
    """What a name looks like on screen: NFKC, without invisible format characters (zero-width spaces and
    joiners, bidirectional marks and overrides), runs of spaces as one. Equal keys: names a reader cannot
    tell apart."""
    normalized = unicodedata.normalize("NFKC", name)
    visible = "".join(char for char in normalized if unicodedata.category(char) != "Cf")
    return " ".join(visible.split())


def same_name_key(name: str) -> str:
    """What makes two code names the same name: they look alike (``lookalike_key``), ignoring case."""
    return lookalike_key(name).casefold()
