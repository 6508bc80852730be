"""Coders' own decisions as prompt examples: accepted codings are positive examples of their code,
rejected suggestions (with the coder's reason) negative ones. Under blind coding only the requesting coder's
decisions are read, never another coder's. ``coder_feedback`` is pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from groundcode import state
from groundcode.domain import Decision, DecisionKind
from services.suggestion.models import FeedbackExample


def coder_feedback(
    decisions: Sequence[Decision],
    coder_id: str | None,
    *,
    segment_texts: Mapping[str, str],
    code_names: Mapping[str, str],
    limit: int,
) -> list[FeedbackExample]:
    """At most ``limit`` of ``coder_id``'s decisions in force (``None``: every coder's, for a project whose
    coders see each other's work), latest first: codings (accepted, edited, created or made by hand) and
    rejections. Codes and segments no longer known are left out."""
    own = [d for d in decisions if coder_id is None or d.coder_id == coder_id]
    examples: list[tuple[str, FeedbackExample]] = []
    for coding in state.codings(own):
        text, name = segment_texts.get(coding.segment_id), code_names.get(coding.code_id)
        if text and name:
            example = FeedbackExample(text=text, code_name=name, accepted=True, segment_id=coding.segment_id)
            examples.append((coding.decided_at.isoformat(), example))
    for decision in state.effective(own):
        rejected = _rejected(decision, segment_texts, code_names)
        if rejected is not None:
            examples.append((decision.decided_at.isoformat(), rejected))
    examples.sort(key=lambda pair: pair[0], reverse=True)
    latest: list[FeedbackExample] = []
    for _, example in examples:
        if len(latest) == limit:
            break
        if example not in latest:  # two coders who decided alike give one example
            latest.append(example)
    return latest


def _rejected(
    decision: Decision, segment_texts: Mapping[str, str], code_names: Mapping[str, str]
) -> FeedbackExample | None:
    if decision.kind != DecisionKind.REJECT or decision.segment_id is None:
        return None
    code_id = (decision.suggestion or {}).get("code_id")
    text = segment_texts.get(decision.segment_id)
    name = code_names.get(str(code_id)) if code_id else None
    if not text or not name:
        return None
    reason = "; ".join(part for part in (decision.reason or "", decision.note.strip()) if part)
    return FeedbackExample(
        text=text,
        code_name=name,
        accepted=False,
        reason=reason.replace("_", " "),
        segment_id=decision.segment_id,
    )
