"""The requesting coder's own decisions as prompt examples: accepted codings are positive examples of
their code, rejected suggestions (with the coder's reason) negative ones. Blind coding holds: only the
coder's own decisions are read, never another coder's. ``coder_feedback`` is pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from groundcode.domain import Decision, DecisionKind
from services.adjudication import state
from services.suggestion.models import FeedbackExample


def coder_feedback(
    decisions: Sequence[Decision],
    coder_id: str,
    *,
    segment_texts: Mapping[str, str],
    code_names: Mapping[str, str],
    limit: int,
    exclude_segment_ids: Collection[str] = (),
) -> list[FeedbackExample]:
    """At most ``limit`` of ``coder_id``'s decisions in force, latest first: codings (accepted, edited,
    created or made by hand) and rejections. Segments being suggested for now are left out (their own
    decisions would give the answer away), as are codes and segments no longer known."""
    own = [d for d in decisions if d.coder_id == coder_id]
    examples: list[tuple[str, FeedbackExample]] = []
    for coding in state.codings(own):
        text, name = segment_texts.get(coding.segment_id), code_names.get(coding.code_id)
        if text and name and coding.segment_id not in exclude_segment_ids:
            example = FeedbackExample(text=text, code_name=name, accepted=True)
            examples.append((coding.decided_at.isoformat(), example))
    for decision in state.effective(own):
        rejected = _rejected(decision, segment_texts, code_names, exclude_segment_ids)
        if rejected is not None:
            examples.append((decision.decided_at.isoformat(), rejected))
    examples.sort(key=lambda pair: pair[0], reverse=True)
    return [example for _, example in examples[:limit]]


def _rejected(
    decision: Decision,
    segment_texts: Mapping[str, str],
    code_names: Mapping[str, str],
    exclude_segment_ids: Collection[str],
) -> FeedbackExample | None:
    if decision.kind != DecisionKind.REJECT or decision.segment_id in exclude_segment_ids:
        return None
    code_id = (decision.suggestion or {}).get("code_id")
    text = segment_texts.get(decision.segment_id or "")
    name = code_names.get(str(code_id)) if code_id else None
    if not text or not name:
        return None
    reason = "; ".join(part for part in (decision.reason or "", decision.note.strip()) if part)
    return FeedbackExample(text=text, code_name=name, accepted=False, reason=reason.replace("_", " "))
