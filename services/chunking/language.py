"""A deliberately simple language guess, good enough to pick a sentence splitter.

The rule: count letters by script. If Arabic-script letters are the majority the text is
Persian ('fa'), unless it contains teh marbuta (ة) and none of the letters Persian has and
Arabic lacks (پ چ ژ گ ک ی), in which case it is Arabic ('ar'). If Latin letters are the
majority it is English ('en'): groundcode does not tell Latin-script languages apart.
Anything else, or no letters at all, is 'und' (undetermined).
"""

from __future__ import annotations

_PERSIAN_ONLY_LETTERS = frozenset("پچژگکی")
_TEH_MARBUTA = "ة"


def _is_arabic_script(char: str) -> bool:
    code = ord(char)
    return (
        0x0600 <= code <= 0x06FF  # Arabic
        or 0x0750 <= code <= 0x077F  # Arabic Supplement
        or 0x08A0 <= code <= 0x08FF  # Arabic Extended-A
        or 0xFB50 <= code <= 0xFDFF  # Arabic Presentation Forms-A
        or 0xFE70 <= code <= 0xFEFF  # Arabic Presentation Forms-B
    )


def _is_latin_script(char: str) -> bool:
    code = ord(char)
    return code <= 0x024F or 0x1E00 <= code <= 0x1EFF


def _looks_arabic_not_persian(text: str) -> bool:
    return _TEH_MARBUTA in text and _PERSIAN_ONLY_LETTERS.isdisjoint(text)


def detect_language(text: str) -> str:
    """Return 'fa', 'ar', 'en' or 'und' for ``text`` (see the module docstring for the rule)."""
    letters = arabic = latin = 0
    for char in text:
        if not char.isalpha():
            continue
        letters += 1
        if _is_arabic_script(char):
            arabic += 1
        elif _is_latin_script(char):
            latin += 1
    if arabic * 2 > letters:
        return "ar" if _looks_arabic_not_persian(text) else "fa"
    if latin * 2 > letters:
        return "en"
    return "und"
