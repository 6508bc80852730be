"""The composition root: builds every adapter from one ``Settings``. Nothing else constructs adapters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from groundcode.coding_scope import CodingScope
from groundcode.domain import Stage, WorkItem, WorkStatus
from groundcode.errors import NoDatabaseError
from groundcode.queue.ports import FollowUps, StageHandler
from groundcode.settings import Settings
from groundcode.storage.accounts import AccountStore
from groundcode.storage.database import create_database_engine, migrate, session_factory, sqlite_file
from groundcode.storage.decisions import DecisionStore
from groundcode.storage.memos import MemoStore
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionStore
from groundcode.storage.work_items import WorkItemStore

# The services are imported where they are built, not here: a command that only reads the database (status,
# sources, --help) must not pay seconds for chromadb, scikit-learn, taskiq or litellm.
if TYPE_CHECKING:
    from groundcode.queue.taskiq_queue import WorkService
    from services.adjudication.learning import StoredDecisionHistory
    from services.adjudication.service import Adjudication
    from services.retrieval.embeddings import Embedder
    from services.retrieval.vector_store import VectorStore
    from services.suggestion.llm import LiteLLMBackend
    from services.suggestion.offline import FittedCoders
    from services.suggestion.stage import LabelVectors, ScopedBackend

ALL_STAGES: tuple[Stage, ...] = tuple(Stage)
NEXT_STAGE: dict[Stage, Stage] = {Stage.CHUNK: Stage.INDEX, Stage.INDEX: Stage.SUGGEST}
"""Which stage a subject goes to after each stage (the follow-ups the handlers hand on)."""
STAGE_LABELS = {
    Stage.CHUNK: "Chunking",
    Stage.INDEX: "Indexing",
    Stage.INDEX_CODEBOOK: "Indexing codebook",
    Stage.SUGGEST: "Suggesting codes",
    Stage.LEARN: "Learning from decisions",
    Stage.RERANK: "Suggesting again after decisions",
}


@dataclass
class Groundcode:
    """One process's view of groundcode: settings, database access and the stage handlers."""

    settings: Settings
    engine: Engine
    repository: Repository
    work_items: WorkItemStore
    suggestions: SuggestionStore
    decisions: DecisionStore
    memos: MemoStore
    accounts: AccountStore
    sessions: sessionmaker[Session]

    @cached_property
    def embedder(self) -> Embedder:
        """Built on first use: loading the model takes a moment and only indexing and search need it. Behind
        the embedding cache: no text is embedded twice."""
        from services.retrieval.embedding_cache import CachedEmbedder
        from services.retrieval.embeddings import embedder_from_settings

        return CachedEmbedder(
            embedder_from_settings(self.settings), self.settings.resolved_embedding_cache_dir()
        )

    @cached_property
    def vector_store(self) -> VectorStore:
        from services.retrieval.vector_store import vector_store_from_settings

        return vector_store_from_settings(self.settings)

    @cached_property
    def decision_history(self) -> StoredDecisionHistory:
        from services.adjudication.learning import StoredDecisionHistory

        return StoredDecisionHistory(self.repository, self.decisions, self.embedder)

    @cached_property
    def adjudication(self) -> Adjudication:
        from services.adjudication.service import Adjudication

        return Adjudication(self.repository, self.suggestions, self.decisions, self.accounts)

    @cached_property
    def label_vectors(self) -> LabelVectors:
        from services.suggestion.stage import LabelVectors

        return LabelVectors(self.embedder)

    @cached_property
    def fitted_coders(self) -> FittedCoders:
        """The offline backend's learnt coders, shared by every source a rerank suggests again."""
        from services.suggestion.offline import FittedCoders

        return FittedCoders()

    @cached_property
    def llm_backend(self) -> LiteLLMBackend:
        """Built on first use, and only when asked for: importing litellm takes seconds."""
        from services.suggestion.cache import SQLResponseCache
        from services.suggestion.llm import LiteLLMBackend, LiteLLMConfig
        from services.suggestion.models import PromptVariant
        from services.suggestion.redaction import Redactor

        settings = self.settings
        if not settings.llm_model:
            raise ValueError("the llm suggestion backend needs a model: set GROUNDCODE_LLM_MODEL or --model")
        config = LiteLLMConfig(
            model=settings.llm_model,
            api_base=settings.llm_api_base,
            api_key=settings.llm_api_key,
            temperature=settings.llm_temperature,
            batch_size=settings.llm_batch_size,
            json_mode=settings.llm_json_mode,
            concurrency=settings.llm_concurrency,
            timeout_seconds=settings.llm_timeout_seconds,
            allow_remote=settings.llm_allow_remote,
            max_tokens=settings.llm_max_tokens,
            prompt_variant=PromptVariant(settings.llm_prompt_variant),
            codebook_token_budget=settings.llm_codebook_token_budget,
            samples=settings.llm_samples,
        )
        # Text only leaves the machine with consent (allow_remote), and then always redacted.
        redactor = Redactor(settings.llm_redact_names) if settings.llm_allow_remote else None
        return LiteLLMBackend(config, cache=SQLResponseCache(self.sessions), redactor=redactor)

    def suggestion_backends(self, project_id: str) -> list[ScopedBackend]:
        """The configured backend for a project, per suggestion scope. The offline one learns from the
        coders' answered segments, the LLM one shows their latest decisions as examples: under blind coding
        each coder's suggestions come from that coder's own decisions only (the shared ones from none) until
        an owner reveals; otherwise from everyone's."""
        from services.suggestion.offline import OfflineBackend
        from services.suggestion.stage import ScopedBackend

        project = self.repository.project_by_id(project_id)
        shared = not project.blind or project.revealed
        if self.settings.suggestion_backend == "llm":
            examples = self.decision_history.feedback(
                project_id, self.settings.suggestion_feedback, pooled=shared
            )
            return [
                ScopedBackend(None, self.llm_backend, examples.get(None, ())),
                *(
                    ScopedBackend(coder_id, self.llm_backend, own)
                    for coder_id, own in examples.items()
                    if coder_id and own
                ),
            ]
        by_coder = self.decision_history.decided_units(project_id)
        if shared:
            pooled = [unit for units in by_coder.values() for unit in units]
            return [ScopedBackend(None, OfflineBackend(self.embedder, pooled, fitted=self.fitted_coders))]
        return [
            ScopedBackend(None, OfflineBackend(self.embedder, fitted=self.fitted_coders)),
            *(
                ScopedBackend(coder_id, OfflineBackend(self.embedder, units, fitted=self.fitted_coders))
                for coder_id, units in by_coder.items()
            ),
        ]

    def set_coding_scope(self, project_id: str, scope: CodingScope) -> list[str]:
        """Store which speakers the project codes and make every source's suggest item pending again;
        returns the sources to submit, so segments no longer coded lose their suggestions."""
        self.repository.set_coding_scope(project_id, scope)
        source_ids = [source.id for source in self.repository.list_sources(project_id)]
        self.work_items.reset(Stage.SUGGEST, source_ids)
        return source_ids

    def handlers(self) -> dict[Stage, StageHandler]:
        """The handler of every pipeline stage, bound to this process's adapters."""
        from services.adjudication.learning import learn_handler
        from services.chunking.ingest import chunk_source
        from services.retrieval.indexing import index_codebook_handler, index_source_handler
        from services.suggestion.stage import rerank_project, suggest_source

        def suggest(source_id: str) -> FollowUps:
            return suggest_source(
                self.repository,
                self.suggestions,
                self.embedder,
                self.vector_store,
                self.suggestion_backends,
                self.settings,
                source_id,
                label_vectors=self.label_vectors,
            )

        def rerank(subject: str) -> FollowUps:
            # An LLM would answer every segment again at each milestone, paid per call: its prompts take the
            # coder's new examples when sources are suggested (an import, `groundcode suggest`).
            if self.settings.suggestion_backend == "llm":
                return []
            return rerank_project(self.repository, suggest, subject)

        return {
            Stage.CHUNK: lambda source_id: chunk_source(self.repository, source_id),
            Stage.INDEX: lambda source_id: index_source_handler(
                self.repository, self.embedder, self.vector_store, source_id
            ),
            Stage.INDEX_CODEBOOK: lambda codebook_id: index_codebook_handler(
                self.repository, self.embedder, self.vector_store, codebook_id
            ),
            Stage.SUGGEST: suggest,
            Stage.LEARN: lambda decision_id: learn_handler(
                self.repository, self.decisions, self.embedder, self.vector_store, decision_id
            ),
            Stage.RERANK: rerank,
        }

    def work_service(self, consume: Collection[Stage] | None = None) -> WorkService:
        """Queue, runner and sweeper. By default the embedded queue runs every stage in this process,
        while with Redis this process only publishes (separate ``groundcode worker`` processes consume)."""
        from groundcode.queue.taskiq_queue import WorkService

        if consume is None:
            consume = ALL_STAGES if self.settings.queue == "inprocess" else ()
        return WorkService(self.settings, self.work_items, self.handlers(), consume=consume)

    def close(self) -> None:
        self.engine.dispose()


def open_groundcode(settings: Settings | None = None, *, create: bool = True) -> Groundcode:
    """Connect to the configured database, migrating its schema to the newest version. Without ``create``
    an embedded database that does not exist yet is an error (``NoDatabaseError``), not a new empty file."""
    settings = settings or Settings()
    url = settings.resolved_database_url()
    database_file = sqlite_file(url)
    if not create and database_file is not None and not database_file.exists():
        raise NoDatabaseError(str(database_file))
    engine = create_database_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    return Groundcode(
        settings=settings,
        engine=engine,
        repository=Repository(sessions),
        work_items=WorkItemStore(sessions),
        suggestions=SuggestionStore(sessions),
        decisions=DecisionStore(sessions),
        memos=MemoStore(sessions),
        accounts=AccountStore(sessions),
        sessions=sessions,
    )


async def wait_until_finished(
    work_items: WorkItemStore,
    items: Sequence[WorkItem],
    *,
    on_progress: Callable[[int, int], None] | None = None,
    poll_seconds: float = 0.1,
) -> None:
    """Wait until none of ``items`` is pending or running; reports ``(finished, total)`` as it goes."""
    ids = [item.id for item in items]
    while True:
        outstanding = await asyncio.to_thread(work_items.outstanding, ids)
        if on_progress is not None:
            on_progress(len(ids) - outstanding, len(ids))
        if outstanding == 0:
            return
        await asyncio.sleep(poll_seconds)


async def wait_until_idle(
    work_items: WorkItemStore, stages: Collection[Stage], *, poll_seconds: float = 0.1
) -> None:
    """Wait until no work item of ``stages`` is pending or running."""
    busy = {
        (stage.value, status.value) for stage in stages for status in (WorkStatus.PENDING, WorkStatus.RUNNING)
    }
    while True:
        counts = await asyncio.to_thread(work_items.counts)
        if not any(counts.get(key, 0) for key in busy):
            return
        await asyncio.sleep(poll_seconds)
