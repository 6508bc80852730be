"""The suggest stage end to end: real E5, embedded Chroma, SQLite and PostgreSQL, offline and LLM backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from groundcode.app import Groundcode, open_groundcode
from groundcode.domain import (
    Code,
    Codebook,
    Decision,
    DecisionKind,
    Segment,
    SegmentUnit,
    Source,
    Stage,
    Suggestion,
    content_hash,
)
from groundcode.settings import Settings
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.indexing import index_codebook, index_source_handler
from services.retrieval.search import CodeCandidate
from services.suggestion.models import Mode
from services.suggestion.stage import build_requests
from tests.retrieval.support import add_transcript
from tests.suggestion.fake_chat_server import FakeChatServer, Reply, auto_reply

TURNS = [
    ("Interviewer", "What holds the project back?"),
    ("P1", "The budget was cut again, so we could not pay for the new servers."),
    ("Interviewer", "And the citizens?"),
    ("P1", "Nobody believes the numbers on the portal any more."),
    ("P1", "مردم دیگر به آمارهایی که شهرداری منتشر می‌کند اعتماد ندارند."),
]
CODED_TURNS = sum(speaker != "Interviewer" for speaker, _ in TURNS)  # interviewer questions get none
CODES = [
    Code(id="budget", name="Budget constraints", definition="Lack of money for digital projects."),
    Code(id="trust", name="Trust", definition="Confidence of citizens in institutions and their data."),
    Code(id="legal", name="Legal barriers", definition="Laws that block cooperation between agencies."),
]


def prepared(
    settings: Settings, e5: LocalE5Embedder, *, index_the_codebook: bool = True
) -> tuple[Groundcode, str]:
    """A migrated groundcode with one indexed transcript and codebook; returns it and the source id."""
    groundcode = open_groundcode(settings)
    groundcode.embedder = e5
    repository = groundcode.repository
    project = repository.ensure_project("study")
    source, _ = add_transcript(repository, project.id, "one.txt", TURNS)
    repository.save_codebook(project.id, "book", CODES)
    if index_the_codebook:
        index_codebook(repository, e5, groundcode.vector_store, project.id)
    assert index_source_handler(repository, e5, groundcode.vector_store, source.id) == [
        (Stage.SUGGEST, source.id)
    ]
    return groundcode, source.id


def llm_settings(tmp_path: Path, sqlite_url: str, chat_server: FakeChatServer, **more: Any) -> Settings:
    """The llm backend against the scripted chat server."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": sqlite_url,
        "suggestion_backend": "llm",
        "llm_model": "openai/test-model",
        "llm_api_base": chat_server.url,
        "llm_api_key": "test",
    }
    return Settings(**(values | more))


def comparable(suggestions: list[Suggestion]) -> list[dict[str, object]]:
    return [s.model_dump(exclude={"created_at"}) for s in suggestions]


def test_offline_suggestions_are_stored_once_however_often_the_stage_runs(
    settings: Settings, e5: LocalE5Embedder
) -> None:
    groundcode, source_id = prepared(settings.model_copy(update={"suggestion_mode": "both"}), e5)
    suggest = groundcode.handlers()[Stage.SUGGEST]

    assert suggest(source_id) == []
    first = groundcode.suggestions.list_for_source(source_id)
    assert suggest(source_id) == []
    again = groundcode.suggestions.list_for_source(source_id)

    assert comparable(again) == comparable(first)
    assert len({s.id for s in again}) == len(again)
    segments = groundcode.repository.list_segments(source_id)
    top = {s.segment_id: s.code_id for s in again if s.mode == "deductive" and s.rank == 1}
    assert top[segments[1].id] == "budget"
    assert top[segments[3].id] == "trust" and top[segments[4].id] == "trust"
    labels = [s for s in again if s.mode == "inductive"]
    assert labels and all(s.provenance["weaker_than_llm"] for s in labels)
    source = groundcode.repository.get_source(source_id)
    assert all(
        source.text[s.quote_start : s.quote_end]  # quotes are exact spans of the source text
        for s in again
        if s.quote_start is not None
    )
    groundcode.close()


def test_a_codebook_whose_index_item_has_not_run_yet_is_indexed_by_the_suggest_stage(
    settings: Settings, e5: LocalE5Embedder
) -> None:
    groundcode, source_id = prepared(settings, e5, index_the_codebook=False)
    assert groundcode.handlers()[Stage.SUGGEST](source_id) == []
    top = [s.code_id for s in groundcode.suggestions.list_for_source(source_id) if s.rank == 1]
    assert "budget" in top and "trust" in top
    groundcode.close()


def test_without_a_codebook_deductive_is_skipped(settings: Settings, e5: LocalE5Embedder) -> None:
    groundcode = open_groundcode(settings)
    groundcode.embedder = e5
    project = groundcode.repository.ensure_project("study")
    source, _ = add_transcript(groundcode.repository, project.id, "one.txt", TURNS)

    assert groundcode.handlers()[Stage.SUGGEST](source.id) == []

    assert groundcode.suggestions.list_for_source(source.id) == []
    groundcode.close()


def test_a_redelivered_item_makes_no_second_llm_call(
    tmp_path: Path, sqlite_url: str, e5: LocalE5Embedder, chat_server: FakeChatServer
) -> None:
    chat_server.responder = auto_reply
    settings = llm_settings(tmp_path, sqlite_url, chat_server)
    groundcode, source_id = prepared(settings, e5)

    groundcode.handlers()[Stage.SUGGEST](source_id)
    calls = len(chat_server.received)
    first = groundcode.suggestions.list_for_source(source_id)
    groundcode.close()
    # Another worker (a new process) gets the same work item again after the first one's lease expired.
    worker = open_groundcode(settings)
    worker.embedder = e5
    worker.handlers()[Stage.SUGGEST](source_id)

    assert calls == CODED_TURNS  # one segment per call
    assert len(chat_server.received) == calls
    again = worker.suggestions.list_for_source(source_id)
    assert [s.id for s in again] == [s.id for s in first]
    assert {s.backend for s in again} == {"litellm"} and all(s.model == "openai/test-model" for s in again)
    assert all(s.provenance["cache_hit"] for s in again)
    worker.close()


def test_the_llm_timeout_setting_reaches_the_backend(
    tmp_path: Path, sqlite_url: str, e5: LocalE5Embedder, chat_server: FakeChatServer
) -> None:
    # CPU inference through llama.cpp takes 15-40 s per call and the server answers one call at a time, so
    # queued calls ran past the fixed 120 s; GROUNDCODE_LLM_TIMEOUT_SECONDS now sets it.
    chat_server.then(Reply(delay=2.0))  # slower than the configured timeout: given up on, then retried
    chat_server.responder = auto_reply
    settings = llm_settings(tmp_path, sqlite_url, chat_server, llm_concurrency=1, llm_timeout_seconds=0.5)
    groundcode, source_id = prepared(settings, e5)

    groundcode.handlers()[Stage.SUGGEST](source_id)

    stored = groundcode.suggestions.list_for_source(source_id)
    assert len(chat_server.received) == CODED_TURNS + 1
    assert sorted(s.provenance["http_calls"] for s in stored if s.rank == 1)[-1] == 2
    groundcode.close()


def test_categories_are_not_suggested_only_the_codes_under_them() -> None:
    """Axial categories (codes with sub-codes) group open codes; segments are coded with the open codes."""
    text = "We bought new servers."
    source = Source(project_id="p", name="a.txt", format="txt", text=text, content_hash=content_hash(text))
    segment = Segment(
        id="s1", source_id=source.id, position=0, start=0, end=len(text), text=text, unit=SegmentUnit.TURN
    )
    category = Code(name="Barriers")
    budget = Code(name="Budget", parent_id=category.id)
    trust = Code(name="Trust")
    codebook = Codebook(project_id="p", name="codes", codes=[category, budget, trust])
    hits = [
        CodeCandidate(
            code_id=code.id, name=code.name, codebook="codes", codebook_version=1, score=0.9, text=""
        )
        for code in (category, budget, trust)
    ]

    (request,) = build_requests(source, [segment], [Mode.DEDUCTIVE], codebook, [hits], [[]])

    assert [candidate.name for candidate in request.candidates] == ["Budget", "Trust"]
    assert [candidate.name for candidate in request.codebook] == ["Budget", "Trust"]


def test_llm_prompts_show_each_blind_coders_own_decisions_and_everyones_once_revealed(
    tmp_path: Path, sqlite_url: str, e5: LocalE5Embedder, chat_server: FakeChatServer
) -> None:
    chat_server.responder = auto_reply
    settings = llm_settings(tmp_path, sqlite_url, chat_server)
    groundcode, source_id = prepared(settings, e5)
    project = groundcode.repository.ensure_project("study")  # blind coding: the default
    ana, bob = (groundcode.accounts.add_user(name).id for name in ("ana", "bob"))
    budget, citizens, _ = (s for s in groundcode.repository.list_segments(source_id) if s.speaker == "P1")
    groundcode.decisions.append(
        [
            Decision(
                project_id=project.id,
                coder_id=ana,
                kind=DecisionKind.CODE,
                segment_id=budget.id,
                source_id=source_id,
                code_id="budget",
                start=budget.start,
                end=budget.end,
            ),
            Decision(
                project_id=project.id,
                coder_id=bob,
                kind=DecisionKind.REJECT,
                segment_id=citizens.id,
                source_id=source_id,
                suggestion_id="s-1",
                suggestion={"code_id": "legal"},
                reason="wrong_code",
                note="about trust, not law",
            ),
        ]
    )
    ana_example = f'"{budget.text}" -> Budget constraints: accepted'
    bob_example = f'"{citizens.text}" -> Legal barriers: rejected (wrong code; about trust, not law)'

    def examples_shown() -> list[tuple[bool, bool]]:
        """Per prompt: (ana's coding shown, bob's rejection shown)."""
        shown = [(ana_example in call.user, bob_example in call.user) for call in chat_server.received]
        chat_server.received.clear()
        return shown

    groundcode.handlers()[Stage.SUGGEST](source_id)

    # Shared suggestions from nobody's decisions, and each coder's own from that coder's only; a prompt
    # never shows the decision on the segment it asks about.
    shown = examples_shown()
    assert len(shown) == 3 * CODED_TURNS
    assert sorted(set(shown)) == [(False, False), (False, True), (True, False)]
    assert shown.count((False, False)) == CODED_TURNS + 2
    assert [groundcode.suggestions.scope_for(project.id, coder) for coder in (ana, bob)] == [ana, bob]

    groundcode.accounts.set_visibility(project.id, revealed=True)
    groundcode.handlers()[Stage.SUGGEST](source_id)

    # Revealed: one shared set of suggestions, whose prompts show everyone's decisions.
    assert sorted(examples_shown()) == [(False, True), (True, False), (True, True)]  # calls run concurrently
    assert [groundcode.suggestions.scope_for(project.id, coder) for coder in (ana, bob)] == [None, None]
    # A milestone of answers suggests again with the offline backend only: an LLM is paid per call.
    assert groundcode.handlers()[Stage.RERANK](f"{project.id}:{ana}:8") == [] and not chat_server.received
    groundcode.close()
