"""Indexing and retrieval with the real E5 model and embedded Chroma, over SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from groundcode.domain import Code, Segment
from groundcode.errors import NotFoundError
from groundcode.storage.repository import Repository
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.indexing import (
    HASH_KEY,
    IndexItem,
    code_text,
    index_codebook,
    index_codebook_handler,
    index_exemplar,
    index_source,
    plan_index,
)
from services.retrieval.search import (
    ExemplarFilter,
    SegmentFilter,
    candidate_codes,
    search,
    segment_texts,
    similar_segments,
)
from services.retrieval.vector_store import ChromaVectorStore, StoredRecord
from tests.retrieval.support import CountingEmbedder, add_transcript

ENGLISH = [
    ("Interviewer", "How did the factory closure affect you?"),
    ("P1", "I lost my job when the factory closed last year."),
    ("P1", "My mother looks after the children while I am at work."),
    ("Interviewer", "What about housing?"),
    ("P1", "We could not afford the rent, so we moved to a smaller flat."),
]
PERSIAN = [
    ("مصاحبه‌گر", "وضعیت کارتان چطور است؟"),
    ("P2", "پارسال وقتی کارخانه تعطیل شد، کارم را از دست دادم."),
    ("P2", "زمستان‌ها در محله ما آلودگی هوا خیلی زیاد است."),
    ("P2", "با گوشی‌ام قبض‌ها را می‌پردازم."),
]
CODES = [
    Code(
        id="job-loss",
        name="Job loss",
        definition="Losing paid work: dismissal, layoffs, factory closures.",
        inclusion="Any mention of being made redundant.",
        exclusion="Changing jobs by choice.",
        examples=["I was laid off in March."],
    ),
    Code(id="housing", name="Housing", definition="Rent, moving home, living conditions."),
    Code(id="childcare", name="Childcare", definition="Who looks after the children."),
    Code(
        id="environment", name="Environment", definition="Air pollution, green space, the city's environment."
    ),
]


@pytest.fixture
def sources(repository: Repository, project_id: str) -> tuple[list[Segment], list[Segment]]:
    _, english = add_transcript(repository, project_id, "interview_en.txt", ENGLISH)
    _, persian = add_transcript(repository, project_id, "interview_fa.txt", PERSIAN)
    return english, persian


def index_all(
    repository: Repository, embedder: CountingEmbedder, store: ChromaVectorStore, segments: list[Segment]
) -> None:
    for source_id in dict.fromkeys(segment.source_id for segment in segments):
        index_source(repository, embedder, store, source_id)


def test_indexing_a_source_again_embeds_nothing(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, _ = sources
    first = index_source(repository, embedder, embedded_store, english[0].source_id)
    second = index_source(repository, embedder, embedded_store, english[0].source_id)
    assert (first.embedded, second.embedded, second.unchanged) == (5, 0, 5)
    assert embedder.passages == 5
    hits = search(embedder, embedded_store, project_id, ["rent"], k=10)[0]
    assert len(hits) == 5 and {hit.speaker for hit in hits} == {"Interviewer", "P1"}


def test_rechunking_drops_stale_segments_and_relabels_without_re_embedding(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, _ = sources
    index_source(repository, embedder, embedded_store, english[0].source_id)
    relabelled = english[1].model_copy(update={"speaker": "Participant 1"})
    repository.replace_segments(english[0].source_id, [english[0], relabelled])
    report = index_source(repository, embedder, embedded_store, english[0].source_id)
    assert (report.embedded, report.refreshed, report.deleted, report.unchanged) == (0, 1, 3, 1)
    assert embedder.passages == 5
    hits = search(
        embedder, embedded_store, project_id, ["job"], filters=SegmentFilter(speakers=["Participant 1"])
    )
    assert [hit.segment_id for hit in hits[0]] == [relabelled.id]


def test_a_failed_run_raises_and_the_retry_embeds_only_what_is_missing(
    repository: Repository,
    e5: LocalE5Embedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
) -> None:
    english, _ = sources
    failing = CountingEmbedder(e5, fail_after_calls=1)
    with pytest.raises(RuntimeError, match="simulated"):
        index_source(repository, failing, embedded_store, english[0].source_id, batch_size=2)
    retry = CountingEmbedder(e5)
    report = index_source(repository, retry, embedded_store, english[0].source_id, batch_size=2)
    assert (failing.passages, report.embedded, report.unchanged, retry.passages) == (2, 3, 2, 3)


def test_persian_query_finds_persian_and_english_segments_by_meaning(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, persian = sources
    index_all(repository, embedder, embedded_store, english + persian)
    (hits,) = search(embedder, embedded_store, project_id, ["از دست دادن کار"], k=2)
    assert {hit.segment_id for hit in hits} == {english[1].id, persian[1].id}
    assert hits[0].score >= hits[1].score


def test_search_filters_by_source_and_speaker(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, persian = sources
    index_all(repository, embedder, embedded_store, english + persian)
    only_persian = SegmentFilter(source_ids=[persian[0].source_id])
    hits = search(embedder, embedded_store, project_id, ["losing a job"], k=10, filters=only_persian)[0]
    assert {hit.segment_id for hit in hits} == {segment.id for segment in persian}
    interviewers = SegmentFilter(speakers=["Interviewer", "مصاحبه‌گر"])
    hits = search(embedder, embedded_store, project_id, ["work"], k=10, filters=interviewers)[0]
    assert {hit.text for hit in hits} == {ENGLISH[0][1], ENGLISH[3][1], PERSIAN[0][1]}


def test_candidate_codes_rank_the_code_that_fits_first_in_either_language(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, persian = sources
    repository.save_codebook(project_id, "main", CODES)
    index_codebook(repository, embedder, embedded_store, project_id)
    index_all(repository, embedder, embedded_store, english + persian)
    texts = segment_texts(embedder, embedded_store, project_id, [persian[1].id, english[4].id, persian[2].id])
    results = candidate_codes(embedder, embedded_store, project_id, texts, k=4)
    assert [candidates[0].code_id for candidates in results] == ["job-loss", "housing", "environment"]
    assert all(len(candidates) == 4 for candidates in results)
    assert results[0][0].codebook == "main" and results[0][0].codebook_version == 1
    with pytest.raises(NotFoundError, match="not-a-segment"):
        segment_texts(embedder, embedded_store, project_id, ["not-a-segment"])


def test_editing_one_code_re_embeds_only_that_code_and_removed_codes_go(
    repository: Repository, embedder: CountingEmbedder, embedded_store: ChromaVectorStore, project_id: str
) -> None:
    repository.save_codebook(project_id, "main", CODES)
    first = index_codebook(repository, embedder, embedded_store, project_id, "main")
    edited = [CODES[0].model_copy(update={"definition": "Being dismissed or laid off."}), *CODES[1:3]]
    repository.save_codebook(project_id, "main", edited)
    second = index_codebook(repository, embedder, embedded_store, project_id, "main")
    again = index_codebook(repository, embedder, embedded_store, project_id, "main")
    assert (first.embedded, second.embedded, second.refreshed, second.deleted) == (4, 1, 2, 1)
    assert (again.embedded, again.unchanged, embedder.passages) == (0, 3, 5)
    (current,) = candidate_codes(embedder, embedded_store, project_id, ["laid off"], k=10, codebook_version=2)
    assert {candidate.code_id for candidate in current} == {"job-loss", "housing", "childcare"}
    assert candidate_codes(embedder, embedded_store, project_id, ["x"], codebook_version=1) == [[]]
    with pytest.raises(NotFoundError, match="other"):
        index_codebook(repository, embedder, embedded_store, project_id, "other")


def test_the_codebook_handler_indexes_the_newest_version_even_for_an_older_work_item(
    repository: Repository, embedder: CountingEmbedder, embedded_store: ChromaVectorStore, project_id: str
) -> None:
    first, _ = repository.save_codebook(project_id, "main", CODES)
    repository.save_codebook(project_id, "main", CODES[:2])
    assert index_codebook_handler(repository, embedder, embedded_store, first.id) == []
    (codes,) = candidate_codes(embedder, embedded_store, project_id, ["childcare"], k=10)
    assert {(code.code_id, code.codebook_version) for code in codes} == {("job-loss", 2), ("housing", 2)}


def test_exemplars_carry_their_codes_and_follow_decisions(
    repository: Repository,
    embedder: CountingEmbedder,
    embedded_store: ChromaVectorStore,
    sources: tuple[list[Segment], list[Segment]],
    project_id: str,
) -> None:
    english, _ = sources
    index_exemplar(embedder, embedded_store, project_id, english[1], ["job-loss"])
    index_exemplar(embedder, embedded_store, project_id, english[4], ["housing"])
    (hits,) = similar_segments(embedder, embedded_store, project_id, [PERSIAN[1][1]], k=1)
    assert (hits[0].segment_id, hits[0].code_ids) == (english[1].id, ["job-loss"])

    recoded = index_exemplar(embedder, embedded_store, project_id, english[1], ["job-loss", "housing"])
    assert (recoded.embedded, recoded.refreshed, embedder.passages) == (0, 1, 2)
    job_loss_only = ExemplarFilter(code_id="job-loss")
    (hits,) = similar_segments(embedder, embedded_store, project_id, ["rent"], k=5, filters=job_loss_only)
    assert [(hit.segment_id, hit.code_ids) for hit in hits] == [(english[1].id, ["housing", "job-loss"])]
    (hits,) = similar_segments(
        embedder, embedded_store, project_id, [english[1].text], k=5, exclude_segment_ids=[english[1].id]
    )
    assert [hit.segment_id for hit in hits] == [english[4].id]

    assert index_exemplar(embedder, embedded_store, project_id, english[1], []).deleted == 1
    (hits,) = similar_segments(embedder, embedded_store, project_id, ["job"], k=5)
    assert [hit.segment_id for hit in hits] == [english[4].id]


def test_code_text_is_what_a_coder_reads_without_the_exclusions() -> None:
    assert code_text(CODES[0]) == (
        "Job loss\nLosing paid work: dismissal, layoffs, factory closures.\n"
        "Any mention of being made redundant.\nI was laid off in March."
    )
    assert code_text(Code(name="Trust", definition="  ", examples=["", "They lie."])) == "Trust\nThey lie."


def test_plan_index_embeds_changed_text_refreshes_changed_metadata_and_deletes_the_rest() -> None:
    def stored(item: IndexItem, **metadata: str) -> StoredRecord:
        return StoredRecord(id=item.id, document=item.text, metadata={**item.stored_metadata(), **metadata})

    same, relabelled, changed, new = (IndexItem(id=name, text=name, metadata={"k": "v"}) for name in "abcd")
    plan = plan_index(
        [same, relabelled, changed, new],
        [
            stored(same),
            stored(relabelled, k="old"),
            stored(changed, **{HASH_KEY: "stale"}),
            StoredRecord(id="gone", document="", metadata={}),
        ],
    )
    assert [item.id for item in plan.embed] == ["c", "d"]
    assert [item.id for item in plan.refresh] == ["b"]
    assert (plan.delete, plan.unchanged) == (["gone"], 1)
