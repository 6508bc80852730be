"""The coding state is a fold over the append-only decisions: latest wins, undo is exact, merges alias."""

from __future__ import annotations

from groundcode import state
from groundcode.domain import Decision, DecisionKind, Role

PROJECT = "p"


def decision(kind: DecisionKind, coder: str = "ana", **values: object) -> Decision:
    defaults: dict[str, object] = {"project_id": PROJECT, "coder_id": coder, "kind": kind}
    if kind in state.CODING_KINDS:
        defaults |= {"segment_id": "s1", "source_id": "src", "start": 0, "end": 10}
    if kind in (state.CODING_KINDS - {DecisionKind.CODE}) | {DecisionKind.REJECT}:
        defaults |= {"segment_id": "s1", "source_id": "src", "suggestion_id": "sg1"}
    return Decision.model_validate(defaults | values)


def accepted(code: str = "c1", coder: str = "ana", **values: object) -> Decision:
    return decision(DecisionKind.ACCEPT, coder, code_id=code, **values)


def test_an_accepted_suggestion_is_a_coding_and_a_later_rejection_replaces_it() -> None:
    accept = accepted()
    assert [(c.code_id, c.start, c.end) for c in state.codings([accept])] == [("c1", 0, 10)]
    reject = decision(DecisionKind.REJECT, reason="wrong_code")
    assert state.codings([accept, reject]) == []
    assert state.reviewed_segments([accept, reject], "ana") == {"s1"}


def test_undo_restores_exactly_the_state_before() -> None:
    first = accepted()
    edit = decision(DecisionKind.EDIT, code_id="c2", start=2, end=5)
    before = state.codings([first])
    undo = decision(DecisionKind.UNDO, undoes=edit.id, segment_id="s1")
    assert state.codings([first, edit, undo]) == before
    # Undo again cancels the next most recent decision: the first acceptance.
    second_undo = decision(DecisionKind.UNDO, undoes=first.id, segment_id="s1")
    assert state.codings([first, edit, undo, second_undo]) == []


def test_each_coder_has_their_own_codings_of_the_same_suggestion() -> None:
    ana, ben = accepted(coder="ana"), decision(DecisionKind.REJECT, coder="ben", reason="too_broad")
    assert [c.coder_id for c in state.codings([ana, ben])] == ["ana"]
    assert state.reviewed_segments([ana, ben], "ben") == {"s1"}


def test_merges_follow_chains_and_undo_of_a_merge_restores_the_code() -> None:
    coding = accepted("a")
    a_into_b = decision(DecisionKind.MERGE, code_id="b", merged_code_id="a")
    b_into_c = decision(DecisionKind.MERGE, code_id="c", merged_code_id="b")
    assert state.code_aliases([a_into_b, b_into_c]) == {"a": "c", "b": "c"}
    assert [c.code_id for c in state.codings([coding, a_into_b, b_into_c])] == ["c"]
    undo = decision(DecisionKind.UNDO, undoes=b_into_c.id)
    assert [c.code_id for c in state.codings([coding, a_into_b, b_into_c, undo])] == ["b"]


def test_skipped_segments_stop_being_skipped_once_reviewed() -> None:
    skip = decision(DecisionKind.SKIP, segment_id="s1")
    assert state.skipped_segments([skip], "ana") == {"s1"}
    assert state.skipped_segments([skip, accepted()], "ana") == set()


def test_hand_made_codings_are_kept_apart_from_suggestion_decisions() -> None:
    by_hand = decision(DecisionKind.CODE, code_id="c9", start=20, end=30)
    assert by_hand.target != accepted().target
    assert {c.code_id for c in state.codings([accepted(), by_hand])} == {"c1", "c9"}


def test_blind_coding_hides_other_coders_until_revealed() -> None:
    ana, ben = accepted(coder="ana"), accepted(coder="ben")
    merge = decision(DecisionKind.MERGE, coder="ben", code_id="c2", merged_code_id="c1")
    everything = [ana, ben, merge]
    assert state.visible(everything, "ana", Role.CODER, blind=True, revealed=False) == [ana, merge]
    assert state.visible(everything, "ana", Role.CODER, blind=True, revealed=True) == everything
    assert state.visible(everything, "ana", Role.CODER, blind=False, revealed=False) == everything
    assert state.visible(everything, "owner", Role.OWNER, blind=True, revealed=False) == everything
    assert state.visible(everything, "viewer", Role.VIEWER, blind=True, revealed=False) == [merge]


def test_no_code_applies_reviews_the_segment_until_a_later_coding_or_its_undo() -> None:
    skip = decision(DecisionKind.SKIP, segment_id="s1")
    no_code = decision(DecisionKind.NO_CODE, segment_id="s1", source_id="src")
    marked = [skip, no_code]
    assert state.no_code_segments(marked) == {"ana": {"s1"}}
    assert state.reviewed_segments(marked, "ana") == {"s1"}
    assert state.skipped_segments(marked, "ana") == set()
    assert state.codings(marked) == [] and state.no_code_segments(marked).get("ben") is None

    coded = decision(DecisionKind.CODE, code_id="c1")  # a later coding supersedes the mark ...
    assert state.no_code_segments([*marked, coded]) == {}
    undo_coding = decision(DecisionKind.UNDO, undoes=coded.id, segment_id="s1")  # ... until it is undone
    assert state.no_code_segments([*marked, coded, undo_coding]) == {"ana": {"s1"}}

    undo = decision(DecisionKind.UNDO, undoes=no_code.id, segment_id="s1")
    assert state.no_code_segments([*marked, undo]) == {}
    assert state.skipped_segments([*marked, undo], "ana") == {"s1"}  # exactly the state before


def test_no_code_is_each_coders_own_answer() -> None:
    ana = decision(DecisionKind.NO_CODE, segment_id="s1")
    ben = accepted(coder="ben")
    assert state.no_code_segments([ana, ben]) == {"ana": {"s1"}}
    assert state.reviewed_segments([ana, ben], "ben") == {"s1"}
