"""Repository tests, run on SQLite and PostgreSQL (the `engine` fixture is parametrized)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from groundcode.domain import Code, Segment, SegmentUnit, Source, content_hash, derived_id
from groundcode.errors import CodebookRaceError, NotFoundError
from groundcode.storage.database import session_factory
from groundcode.storage.repository import Repository

PERSIAN = "مصاحبه‌گر: نظر شما درباره‌ی حکمرانی هوشمند چیست؟ 👩🏽‍🔬 café"


@pytest.fixture
def repository(engine: Engine) -> Repository:
    return Repository(session_factory(engine))


def make_source(repository: Repository, text: str = PERSIAN, name: str = "interview-1.txt") -> Source:
    project = repository.ensure_project("study")
    return Source(
        project_id=project.id,
        name=name,
        format="txt",
        language="fa",
        text=text,
        content_hash=content_hash(text),
    )


def test_project_is_created_once(repository: Repository) -> None:
    first = repository.ensure_project("study")
    assert repository.ensure_project("study") == first
    assert repository.list_projects() == [first]
    with pytest.raises(NotFoundError, match="no project named 'other'"):
        repository.get_project("other")


def test_source_text_round_trips_exactly_and_reimport_is_detected(repository: Repository) -> None:
    source = make_source(repository)
    stored, created = repository.add_source(source)
    assert created
    assert repository.get_source(source.id).text == PERSIAN
    again, created_again = repository.add_source(make_source(repository, name="copy.txt"))
    assert not created_again
    assert again.id == stored.id
    assert len(repository.list_sources(source.project_id)) == 1


def test_find_source_by_name_id_or_prefix(repository: Repository) -> None:
    source, _ = repository.add_source(make_source(repository))
    assert repository.find_source(source.project_id, "interview-1.txt").id == source.id
    assert repository.find_source(source.project_id, source.id[:8]).id == source.id
    with pytest.raises(NotFoundError, match="no source"):
        repository.find_source(source.project_id, "missing.txt")


def test_replace_segments_is_idempotent_and_keeps_offsets(repository: Repository) -> None:
    source, _ = repository.add_source(make_source(repository))
    spans = [(11, 49), (50, len(PERSIAN))]
    segments = [
        Segment(
            id=derived_id(source.id, "sentence", str(start), str(end)),
            source_id=source.id,
            position=position,
            start=start,
            end=end,
            text=PERSIAN[start:end],
            unit=SegmentUnit.SENTENCE,
            speaker="مصاحبه‌گر",
        )
        for position, (start, end) in enumerate(spans)
    ]
    repository.replace_segments(source.id, segments)
    repository.replace_segments(source.id, segments)
    stored = repository.list_segments(source.id)
    assert stored == segments
    assert all(source.text[s.start : s.end] == s.text for s in stored)
    assert repository.segment_counts(source.project_id) == {source.id: 2}


def test_codebook_versions_only_when_changed(repository: Repository) -> None:
    project = repository.ensure_project("study")
    parent = Code(id="c-1", name="Trust", definition="Confidence in institutions")
    child = Code(id="c-2", name="Trust in officials", parent_id="c-1", examples=["I believe them"])
    first, created = repository.save_codebook(project.id, "main", [parent, child])
    assert created and first.version == 1
    same, created_again = repository.save_codebook(project.id, "main", [parent, child])
    assert not created_again and same.id == first.id
    edited = child.model_copy(update={"definition": "Belief that officials act honestly"})
    second, _ = repository.save_codebook(project.id, "main", [parent, edited])
    assert second.version == 2
    latest = repository.latest_codebook(project.id, "main")
    assert latest is not None and latest.codes == [parent, edited]


def test_codebook_saves_racing_for_one_version_store_each_version_once(repository: Repository) -> None:
    project = repository.ensure_project("race")

    def save(number: int) -> str:
        try:
            repository.save_codebook(project.id, "book", [Code(name=f"code {number}")])
        except CodebookRaceError:
            return "refused"
        return "stored"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(save, range(16)))
    latest = repository.latest_codebook(project.id, "book")
    assert latest is not None and set(outcomes) <= {"stored", "refused"}
    assert latest.version == outcomes.count("stored")  # no version lost, none stored twice
