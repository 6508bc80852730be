"""The order in which a coder reviews segments. Pure functions, no I/O.

``source`` is the segments' order in their source; ``uncertain`` puts first the segments whose top two
suggestions are closest, where a decision tells the suggester most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

ReviewOrder = Literal["source", "uncertain"]


def margin(confidences: Sequence[float]) -> float:
    """The top confidence minus the second one. With one candidate its confidence (the margin over "no
    code"), with none 0.0 (nothing to separate, so as uncertain as can be)."""
    top = sorted(confidences, reverse=True)[:2]
    if not top:
        return 0.0
    if len(top) == 1:
        return top[0]
    return top[0] - top[1]


def uncertain_first(segment_ids: Sequence[str], confidences: Mapping[str, Sequence[float]]) -> list[str]:
    """The segment ids by ascending margin between their top two suggestions, least certain first; ties
    (and segments without suggestions, margin 0.0) keep their original order."""
    return sorted(segment_ids, key=lambda segment_id: margin(confidences.get(segment_id, ())))
