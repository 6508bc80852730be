"""The decision store on SQLite and PostgreSQL: append-only, optimistic versions, races settled."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from groundcode.domain import Decision, DecisionKind, Stage
from groundcode.storage.accounts import AccountStore
from groundcode.storage.database import create_database_engine, downgrade_to, migrate, session_factory
from groundcode.storage.decisions import DecisionStore, VersionConflict
from groundcode.storage.repository import Repository
from groundcode.storage.work_items import WorkItemStore


@pytest.fixture
def stores(engine: Engine) -> tuple[DecisionStore, str, list[str]]:
    sessions = session_factory(engine)
    project = Repository(sessions).ensure_project("study")
    accounts = AccountStore(sessions)
    coders = [accounts.add_user(name).id for name in ("ana", "ben")]
    return DecisionStore(sessions), project.id, coders


def skip(project_id: str, coder_id: str, segment_id: str = "seg") -> Decision:
    return Decision(project_id=project_id, coder_id=coder_id, kind=DecisionKind.SKIP, segment_id=segment_id)


def test_versions_advance_and_a_stale_decision_is_refused(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, _) = stores
    assert store.append([skip(project_id, ana)], expected_version=0) == {(ana, "seg"): 1}
    assert store.append([skip(project_id, ana)], expected_version=1) == {(ana, "seg"): 2}
    with pytest.raises(VersionConflict, match="version 2, you had 1"):
        store.append([skip(project_id, ana)], expected_version=1)
    assert len(store.list(project_id)) == 2  # the refused decision left nothing behind


def test_racing_decisions_of_one_coder_on_one_version_let_exactly_one_win(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, _) = stores
    store.append([skip(project_id, ana)], expected_version=0)

    def attempt(_: int) -> str:
        try:
            store.append([skip(project_id, ana)], expected_version=1)
            return "won"
        except VersionConflict:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    assert len(store.list(project_id)) == 2
    assert store.versions(ana, ["seg"]) == {"seg": 2}


def test_two_coders_deciding_at_once_both_keep_their_decision(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, coders = stores
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda coder: store.append([skip(project_id, coder)], expected_version=0), coders))
    assert sorted(d.coder_id for d in store.list(project_id)) == sorted(coders)
    assert store.versions(coders[0], ["seg"]) == store.versions(coders[1], ["seg"]) == {"seg": 1}


def test_one_append_may_carry_several_coders_decisions_on_one_segment(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, ben) = stores
    both = [skip(project_id, ana), skip(project_id, ben), skip(project_id, ana)]
    assert store.append(both, expected_version=0) == {(ana, "seg"): 2, (ben, "seg"): 1}


def test_the_learn_work_item_is_stored_with_the_decision(
    engine: Engine, stores: tuple[DecisionStore, str, list[str]]
) -> None:
    store, project_id, (ana, _) = stores
    decision = skip(project_id, ana)
    store.append([decision], follow_up=Stage.LEARN)
    items = WorkItemStore(session_factory(engine)).find(Stage.LEARN, [decision.id])
    assert [item.subject_id for item in items] == [decision.id]


def test_project_wide_decisions_come_with_any_segment_filter(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, _) = stores
    merge = Decision(
        project_id=project_id, coder_id=ana, kind=DecisionKind.MERGE, code_id="b", merged_code_id="a"
    )
    store.append([skip(project_id, ana, "one"), skip(project_id, ana, "two"), merge])
    assert [d.segment_id for d in store.list(project_id, segment_ids=["two"])] == ["two", None]


def test_segments_decided_counts_a_coders_segments_by_kind_in_one_query(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, ben) = stores
    no_code = [
        Decision(project_id=project_id, coder_id=coder, kind=DecisionKind.NO_CODE, segment_id=segment)
        for coder, segment in ((ana, "s1"), (ana, "s2"), (ana, "s2"), (ben, "s3"))
    ]
    store.append([*no_code, skip(project_id, ana, "s4")])
    assert store.segments_decided(project_id, ana, [DecisionKind.NO_CODE]) == 2  # s2 once
    assert store.segments_decided(project_id, ana, [DecisionKind.NO_CODE, DecisionKind.SKIP]) == 3
    assert store.segments_decided(project_id, ben, [DecisionKind.ACCEPT]) == 0


def _decision(project_id: str, coder_id: str, kind: DecisionKind, segment_id: str, **more: str) -> Decision:
    return Decision(project_id=project_id, coder_id=coder_id, kind=kind, segment_id=segment_id, **more)


def test_review_marks_follow_every_decision_and_undo_in_the_same_transaction(
    stores: tuple[DecisionStore, str, list[str]],
) -> None:
    store, project_id, (ana, ben) = stores
    skipped = _decision(project_id, ana, DecisionKind.SKIP, "s1")
    marked = _decision(project_id, ana, DecisionKind.NO_CODE, "s2")
    store.append([skipped, marked, _decision(project_id, ben, DecisionKind.SKIP, "s3")])
    assert store.review_marks(project_id, ana) == {"s1": "skipped", "s2": "reviewed"}
    assert store.review_marks(project_id, ben) == {"s3": "skipped"}

    store.append([_decision(project_id, ana, DecisionKind.NO_CODE, "s1")])  # reviewed after all
    assert store.review_marks(project_id, ana) == {"s1": "reviewed", "s2": "reviewed"}
    assert store.last_undoable(project_id, ana) == store.list(project_id, coder_ids=[ana])[-1]

    for _ in range(2):  # undo the last two: s1 is skipped again, s2 not reviewed any more
        target = store.last_undoable(project_id, ana)
        assert target is not None and target.segment_id is not None
        store.append([_decision(project_id, ana, DecisionKind.UNDO, target.segment_id, undoes=target.id)])
    assert store.review_marks(project_id, ana) == {"s1": "skipped"}
    assert store.last_undoable(project_id, ana) == skipped
    store.append([_decision(project_id, ana, DecisionKind.UNDO, "s1", undoes=skipped.id)])
    assert store.last_undoable(project_id, ana) is None and store.review_marks(project_id, ana) == {}


def test_the_migration_marks_the_decisions_made_before_it(database_url: str) -> None:
    engine = create_database_engine(database_url)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        project_id = Repository(sessions).ensure_project("before-marks").id
        ana = AccountStore(sessions).add_user("ana-before-marks").id
        store = DecisionStore(sessions)
        store.append([skip(project_id, ana, "s1"), _decision(project_id, ana, DecisionKind.NO_CODE, "s2")])
        with engine.begin() as connection:  # as a database of revision 0007 would hold them
            connection.execute(text("DELETE FROM review_marks"))
        downgrade_to(engine, "0007")
        migrate(engine)
        assert store.review_marks(project_id, ana) == {"s1": "skipped", "s2": "reviewed"}
    finally:
        engine.dispose()
