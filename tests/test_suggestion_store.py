"""The suggestion store (migration 0003) on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from groundcode.domain import Suggestion
from groundcode.storage.database import session_factory
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionCount, SuggestionStore
from tests.retrieval.support import add_transcript


def suggestion(
    segment_id: str, rank: int, *, code: str | None = None, label: str | None = None
) -> Suggestion:
    return Suggestion(
        segment_id=segment_id,
        code_id=code,
        proposed_label=label,
        confidence=0.5,
        mode="deductive" if code else "inductive",
        rank=rank,
        codebook_version=1 if code else None,
        backend="offline",
    )


def test_replace_is_idempotent_and_scoped_to_segments_and_backend(engine: Engine) -> None:
    sessions = session_factory(engine)
    repository, store = Repository(sessions), SuggestionStore(sessions)
    project = repository.ensure_project("p")
    source, (first, second) = add_transcript(
        repository, project.id, "one.txt", [("P1", "The budget was cut."), ("P1", "Nobody trusts it.")]
    )
    mine = [suggestion(first.id, 1, code="budget"), suggestion(first.id, 2, code="trust")]
    other = suggestion(second.id, 1, code="trust").model_copy(update={"backend": "litellm", "id": "x"})
    store.replace_for_segments([second.id], "litellm", [other])

    store.replace_for_segments([first.id], "offline", mine)
    store.replace_for_segments([first.id], "offline", mine)

    assert [s.code_id for s in store.list_for_segment(first.id)] == ["budget", "trust"]
    assert [s.segment_id for s in store.list_for_source(source.id)] == [first.id, first.id, second.id]
    assert store.list_for_source(source.id)[0] == mine[0]
    assert store.summary(project.id) == [
        SuggestionCount(code_id="trust", proposed_label=None, count=2),
        SuggestionCount(code_id="budget", proposed_label=None, count=1),
    ]
    store.replace_for_segments([first.id], "offline", [suggestion(first.id, 1, label="Cuts")])
    assert [s.proposed_label for s in store.list_for_segment(first.id)] == ["Cuts"]
    with pytest.raises(ValueError, match="one of the segments"):
        store.replace_for_segments([second.id], "offline", mine)


def test_modes_limit_what_is_replaced_and_rechunking_removes_suggestions(engine: Engine) -> None:
    sessions = session_factory(engine)
    repository, store = Repository(sessions), SuggestionStore(sessions)
    project = repository.ensure_project("p")
    source, (segment,) = add_transcript(repository, project.id, "one.txt", [("P1", "The budget was cut.")])
    store.replace_for_segments([segment.id], "offline", [suggestion(segment.id, 1, code="budget")])
    store.replace_for_segments(
        [segment.id], "offline", [suggestion(segment.id, 1, label="Cuts")], modes=["inductive"]
    )
    assert {s.mode for s in store.list_for_segment(segment.id)} == {"deductive", "inductive"}

    repository.replace_segments(source.id, [])

    assert store.list_for_source(source.id) == []


def test_ids_are_derived_from_what_produced_the_suggestion() -> None:
    one, same = suggestion("seg", 1, code="budget"), suggestion("seg", 2, code="budget")
    assert one.id == same.id
    assert one.id != suggestion("seg", 1, code="trust").id
    with pytest.raises(ValueError, match="either a code_id or a proposed_label"):
        suggestion("seg", 1)
