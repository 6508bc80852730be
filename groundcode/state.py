"""The coding state, derived from the append-only decisions. Pure functions, no I/O.

Decisions are never changed: an undo is one more decision, and a later decision of the same coder on the
same target (a suggestion, a hand-made coding, a skip, a merge) replaces the earlier one. So the state at
any moment is a fold over the decisions in order, and undoing a decision restores exactly what was before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Literal, assert_never

from groundcode.domain import Code, Coding, Decision, DecisionKind, Memo, MemoKind, Role

CODING_KINDS = frozenset(
    {DecisionKind.ACCEPT, DecisionKind.EDIT, DecisionKind.CREATE_CODE, DecisionKind.CODE}
)
REVIEW_KINDS = CODING_KINDS | {DecisionKind.REJECT}
"""Decisions that count a segment as reviewed by their coder."""


def undone_ids(decisions: Iterable[Decision]) -> set[str]:
    """Ids of the decisions cancelled by an undo (an undo itself is never undone: undo the next one)."""
    return {d.undoes for d in decisions if d.kind == DecisionKind.UNDO and d.undoes is not None}


def effective(decisions: Sequence[Decision]) -> list[Decision]:
    """The decisions in force, in order: not undone, and the latest of each coder on each target."""
    undone = undone_ids(decisions)
    latest: dict[tuple[str, str], Decision] = {}
    for decision in decisions:
        if decision.kind == DecisionKind.UNDO or decision.id in undone:
            continue
        key = (decision.coder_id, decision.target)
        latest.pop(key, None)  # re-insert so that dict order follows the latest decision
        latest[key] = decision
    return list(latest.values())


def code_aliases(decisions: Sequence[Decision]) -> dict[str, str]:
    """Merged code -> the code it now counts as (followed through chains of merges)."""
    merged_into = {
        d.merged_code_id: d.code_id
        for d in effective(decisions)
        if d.kind == DecisionKind.MERGE and d.merged_code_id is not None and d.code_id is not None
    }
    aliases = {}
    for start in merged_into:
        seen = {start}
        target = merged_into[start]
        while target in merged_into and target not in seen:
            seen.add(target)
            target = merged_into[target]
        aliases[start] = target
    return aliases


def codings(decisions: Sequence[Decision]) -> list[Coding]:
    """The current codings: what accepted, edited, created and hand-made decisions in force say, with merged
    codes counted as the code they were merged into. One coding per coder, segment, code and span."""
    aliases = code_aliases(decisions)
    found: dict[tuple[str, str, str, int, int], Coding] = {}
    for decision in effective(decisions):
        if decision.kind not in CODING_KINDS:
            continue
        assert decision.code_id and decision.segment_id and decision.source_id  # checked by Decision
        assert decision.start is not None and decision.end is not None
        code_id = aliases.get(decision.code_id, decision.code_id)
        key = (decision.coder_id, decision.segment_id, code_id, decision.start, decision.end)
        found.setdefault(
            key,
            Coding(
                coder_id=decision.coder_id,
                source_id=decision.source_id,
                segment_id=decision.segment_id,
                code_id=code_id,
                start=decision.start,
                end=decision.end,
                decision_id=decision.id,
                suggestion_id=decision.suggestion_id,
                decided_at=decision.decided_at,
            ),
        )
    return list(found.values())


def no_code_segments(decisions: Sequence[Decision]) -> dict[str, set[str]]:
    """Per coder, the segments marked "no code applies" in force: not undone, and no coding of that coder
    on the segment decided since (a later coding supersedes the mark; undoing that coding restores it)."""
    undone = undone_ids(decisions)
    marked: dict[str, set[str]] = {}
    for d in decisions:
        if d.id in undone or d.segment_id is None:
            continue
        if d.kind == DecisionKind.NO_CODE:
            marked.setdefault(d.coder_id, set()).add(d.segment_id)
        elif d.kind in CODING_KINDS:
            marked.get(d.coder_id, set()).discard(d.segment_id)
    return {coder_id: segments for coder_id, segments in marked.items() if segments}


def reviewed_segments(decisions: Sequence[Decision], coder_id: str) -> set[str]:
    """Segments on which the coder has a decision in force that codes or rejects, or marks that no code
    applies."""
    decided = {
        d.segment_id
        for d in effective(decisions)
        if d.coder_id == coder_id and d.kind in REVIEW_KINDS and d.segment_id is not None
    }
    return decided | no_code_segments(decisions).get(coder_id, set())


def skipped_segments(decisions: Sequence[Decision], coder_id: str) -> set[str]:
    """Segments the coder put aside (and has not reviewed since)."""
    skipped = {
        d.segment_id
        for d in effective(decisions)
        if d.coder_id == coder_id and d.kind == DecisionKind.SKIP and d.segment_id is not None
    }
    return skipped - reviewed_segments(decisions, coder_id)


ReviewMark = Literal["reviewed", "skipped"]


def review_mark(decisions: Sequence[Decision], coder_id: str, segment_id: str) -> ReviewMark | None:
    """Where the coder's review of the segment stands: reviewed, skipped or neither. ``decisions`` may be
    only the coder's decisions on that segment: nothing else changes it."""
    if segment_id in reviewed_segments(decisions, coder_id):
        return "reviewed"
    if segment_id in skipped_segments(decisions, coder_id):
        return "skipped"
    return None


def can_see_others(role: Role, *, blind: bool, revealed: bool) -> bool:
    """Blind coding: coders and viewers see only their own decisions until an owner reveals them all."""
    return role == Role.OWNER or not blind or revealed


def visible(
    decisions: Sequence[Decision], viewer_id: str, role: Role, *, blind: bool, revealed: bool
) -> list[Decision]:
    """The decisions this member may see (merges change the shared codebook, so everyone sees them)."""
    if can_see_others(role, blind=blind, revealed=revealed):
        return list(decisions)
    merges = {d.id for d in decisions if d.kind == DecisionKind.MERGE}
    return [
        d for d in decisions if d.coder_id == viewer_id or d.kind == DecisionKind.MERGE or d.undoes in merges
    ]


def visible_memos(
    memos: Iterable[Memo],
    viewer_id: str,
    role: Role,
    *,
    blind: bool,
    revealed: bool,
    decision_ids: Collection[str],
    hidden: Collection[str],
) -> list[Memo]:
    """Blind coding for memos: another coder's journal entries stay theirs until an owner reveals; a
    coding's memo is seen with the coding (``decision_ids``: the decisions the member may see), a code's
    with the code (``hidden``: the codes the member may not see yet); project and source memos are shared."""
    others = can_see_others(role, blind=blind, revealed=revealed)

    def visible(memo: Memo) -> bool:
        match memo.kind:
            case MemoKind.PROJECT | MemoKind.SOURCE:
                return True
            case MemoKind.JOURNAL:
                return others or memo.author_id == viewer_id
            case MemoKind.CODE:
                return memo.subject_id not in hidden
            case MemoKind.CODING:
                return memo.subject_id in decision_ids
            case _:
                assert_never(memo.kind)

    return [memo for memo in memos if visible(memo)]


def hidden_codes(codes: Iterable[Code], viewer_id: str, role: Role) -> set[str]:
    """Blind coding for codes: a coder's new code is hidden from the other coders and viewers until an owner
    approves it (revealing approves every code); its creator and the owners always see it."""
    return {
        code.id for code in codes if not code.approved and role != Role.OWNER and code.created_by != viewer_id
    }


def decided_codes(decisions: Sequence[Decision]) -> dict[tuple[str, str], frozenset[str]]:
    """``(coder, segment)`` -> the codes in force, for every segment a coder has answered: coded, or marked
    "no code applies" (an empty set). A segment with rejections only is not answered yet: the coder said
    which codes do not apply, not which do."""
    answered: dict[tuple[str, str], set[str]] = {}
    for coder_id, segment_ids in no_code_segments(decisions).items():
        for segment_id in segment_ids:
            answered[(coder_id, segment_id)] = set()
    for coding in codings(decisions):
        answered.setdefault((coding.coder_id, coding.segment_id), set()).add(coding.code_id)
    return {key: frozenset(codes) for key, codes in answered.items()}


def codes_under(codes: Iterable[Code], roots: set[str]) -> set[str]:
    """The ids of ``roots`` and of every code below one of them in the hierarchy."""
    children: dict[str | None, list[str]] = {}
    for code in codes:
        children.setdefault(code.parent_id, []).append(code.id)
    found: set[str] = set()
    pending = list(roots)
    while pending:
        code_id = pending.pop()
        if code_id not in found:
            found.add(code_id)
            pending += children.get(code_id, [])
    return found


def without_code(codes: Sequence[Code], code_id: str, *, children_to: str | None) -> list[Code]:
    """The codes without ``code_id``; its sub-codes move under ``children_to`` (a merge's kept code, or the
    removed code's own parent when it is retired)."""
    return [
        code.model_copy(update={"parent_id": children_to}) if code.parent_id == code_id else code
        for code in codes
        if code.id != code_id
    ]
