"""The suggest stage: every segment of a source gets ranked candidate codes and/or proposed labels.

The handler loads the source's segments and the project's latest codebook, retrieves candidates and
exemplars in batches, asks the configured backend, merges near-duplicate proposed labels with the
project's existing ones, and replaces the backend's suggestions for the source in one transaction.
Running it again gives the same suggestion ids (nothing is duplicated) and, with the LLM backend,
answers from the response cache (no second model call).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, Protocol

from groundcode.coding_scope import codable
from groundcode.domain import Code, Codebook, Segment, Source, Suggestion
from groundcode.queue.ports import FollowUps
from groundcode.storage.repository import Repository
from groundcode.storage.suggestions import SuggestionStore
from services.retrieval.batching import batched
from services.retrieval.embeddings import Embedder
from services.retrieval.indexing import collection, index_codebook
from services.retrieval.search import CodeCandidate, SegmentHit, candidate_codes, similar_segments
from services.retrieval.vector_store import CollectionKind, VectorStore
from services.suggestion.keyphrases import merge_labels
from services.suggestion.models import (
    CandidateCode,
    Exemplar,
    FeedbackExample,
    Mode,
    SegmentSuggestions,
    SuggestionRequest,
)

ModeSetting = Literal["deductive", "inductive", "both"]


class NamedBackend(Protocol):
    """A ``SuggestionBackend`` that names itself (its suggestions are stored and replaced under the name)."""

    backend_name: str

    async def suggest(self, requests: Sequence[SuggestionRequest]) -> list[SegmentSuggestions]: ...


class SuggestOptions(Protocol):
    """The settings the stage reads (``groundcode.settings.Settings`` has them)."""

    suggestion_mode: ModeSetting
    suggestion_candidates: int
    suggestion_exemplars: int
    suggestion_batch_size: int


class ScopedBackend(NamedTuple):
    """A backend and whose suggestions it makes: a blind coder's own (learnt from their decisions only), or
    the shared ones (None); ``feedback``: the decisions its prompts show as examples (LLM backend)."""

    coder_id: str | None
    backend: NamedBackend
    feedback: Sequence[FeedbackExample] = ()


BackendFor = Callable[[str], Sequence[ScopedBackend]]
"""The backends to run for a project, one per suggestion scope, all of one name."""


def modes_to_run(setting: ModeSetting, codebook: Codebook | None) -> list[Mode]:
    """The modes asked for; deductive needs a codebook with codes, so without one it is skipped."""
    wanted = [Mode.DEDUCTIVE, Mode.INDUCTIVE] if setting == "both" else [Mode(setting)]
    if codebook is None or not codebook.codes:
        wanted = [mode for mode in wanted if mode is not Mode.DEDUCTIVE]
    return wanted


def build_requests(
    source: Source,
    segments: Sequence[Segment],
    modes: Sequence[Mode],
    codebook: Codebook | None,
    candidates: Sequence[Sequence[CodeCandidate]],
    exemplars: Sequence[Sequence[SegmentHit]],
) -> list[SuggestionRequest]:
    """One request per segment and mode, with the neighbouring segments as context. Pure.

    ``candidates[i]``/``exemplars[i]`` are segment ``i``'s retrieval hits (may be empty); a segment
    without any candidate of the codebook gets no deductive request. Codes with sub-codes are categories
    (axial coding's), not applied to segments: only the codes under them are offered. A blind coder's new
    code is offered only once an owner approved it (or revealed).
    """
    categories = {code.parent_id for code in codebook.codes} if codebook else set()
    codes = (
        {code.id: code for code in codebook.codes if code.approved and code.id not in categories}
        if codebook
        else {}
    )
    whole = [_candidate(code, None) for code in codes.values()]
    requests = []
    for index, segment in enumerate(segments):
        shared = {
            "segment_id": segment.id,
            "segment_start": segment.start,
            "text": segment.text,
            "speaker": segment.speaker,
            "context_before": segments[index - 1].text if index > 0 else "",
            "context_after": segments[index + 1].text if index + 1 < len(segments) else "",
            "language": source.language,
        }
        for mode in modes:
            if mode is Mode.INDUCTIVE:
                requests.append(SuggestionRequest(mode=mode, **shared))
                continue
            offered = _candidates(candidates[index], codes)
            if codebook is not None and offered:
                requests.append(
                    SuggestionRequest(
                        mode=mode,
                        candidates=offered,
                        codebook=whole,
                        exemplars=[_exemplar(hit, codes) for hit in exemplars[index]],
                        codebook_id=codebook.id,
                        codebook_version=codebook.version,
                        **shared,
                    )
                )
    return requests


def _candidates(hits: Sequence[CodeCandidate], codes: dict[str, Code]) -> list[CandidateCode]:
    """Hits that are codes of the codebook, one per name (the model answers with names)."""
    offered: dict[str, CandidateCode] = {}
    for hit in hits:
        code = codes.get(hit.code_id)
        if code is not None and code.name not in offered:
            offered[code.name] = _candidate(code, hit.score)
    return list(offered.values())


def _candidate(code: Code, score: float | None) -> CandidateCode:
    return CandidateCode(
        code_id=code.id,
        name=code.name,
        definition=code.definition,
        inclusion=code.inclusion,
        exclusion=code.exclusion,
        examples=code.examples,
        score=score,
    )


def _exemplar(hit: SegmentHit, codes: dict[str, Code]) -> Exemplar:
    return Exemplar(
        text=hit.text,
        code_ids=hit.code_ids,
        code_names=[codes[code_id].name for code_id in hit.code_ids if code_id in codes],
        score=hit.score,
    )


def to_suggestions(
    requests: Sequence[SuggestionRequest],
    answers: Sequence[SegmentSuggestions],
    *,
    coder_id: str | None = None,
) -> list[Suggestion]:
    """The backend's answers as stored suggestions (of one scope), ranked per segment and mode. Pure."""
    stored = []
    for request, answer in zip(requests, answers, strict=True):
        for rank, suggested in enumerate(answer.suggestions, start=1):
            provenance = suggested.provenance
            stored.append(
                Suggestion(
                    segment_id=suggested.segment_id,
                    code_id=suggested.code_id,
                    proposed_label=suggested.proposed_label,
                    confidence=suggested.confidence,
                    rationale=suggested.rationale,
                    quote_start=suggested.quote_start,
                    quote_end=suggested.quote_end,
                    quote_match=suggested.quote_match,
                    mode=request.mode.value,
                    rank=rank,
                    codebook_id=request.codebook_id,
                    codebook_version=request.codebook_version,
                    backend=str(provenance["backend"]),
                    model=provenance.get("model"),
                    prompt_version=provenance.get("prompt_version"),
                    provenance=provenance,
                    created_at=suggested.created_at,
                    coder_id=coder_id,
                )
            )
    return stored


def relabel(suggestions: Sequence[Suggestion], merged: dict[str, str]) -> list[Suggestion]:
    """Proposed labels replaced by the label they merge into; a segment keeps each label once (its most
    confident suggestion), re-ranked. Pure."""
    best: dict[tuple[str, str, str], Suggestion] = {}
    for suggestion in suggestions:
        label = merged.get(suggestion.proposed_label or "", suggestion.proposed_label)
        renamed = Suggestion.model_validate({**suggestion.model_dump(), "id": "", "proposed_label": label})
        key = (renamed.segment_id, renamed.mode, renamed.code_id or renamed.proposed_label or "")
        if key not in best or best[key].confidence < renamed.confidence:
            best[key] = renamed
    ranked: list[Suggestion] = []
    position: Counter[tuple[str, str]] = Counter()
    for suggestion in sorted(best.values(), key=lambda s: (s.segment_id, s.mode, -s.confidence)):
        position[(suggestion.segment_id, suggestion.mode)] += 1
        rank = position[(suggestion.segment_id, suggestion.mode)]
        ranked.append(Suggestion.model_validate({**suggestion.model_dump(), "id": "", "rank": rank}))
    return ranked


class LabelVectors:
    """Embeddings of proposed labels, remembered by the process: every source's merge compares its new
    labels with all of the project's, which would otherwise be embedded again each time."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._known: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def __call__(self, labels: Sequence[str]) -> dict[str, list[float]]:
        with self._lock:
            missing = sorted({label for label in labels if label not in self._known})
        if missing:
            found = dict(zip(missing, self._embedder.embed_passages(missing), strict=True))
            with self._lock:
                self._known.update(found)
        with self._lock:
            return {label: self._known[label] for label in labels}


def suggest_source(
    repository: Repository,
    store: SuggestionStore,
    embedder: Embedder,
    vectors: VectorStore,
    backend_for: BackendFor,
    options: SuggestOptions,
    source_id: str,
    *,
    label_vectors: LabelVectors | None = None,
) -> FollowUps:
    """The suggest stage handler (runs in a worker thread; the backend's coroutine runs here)."""
    source = repository.get_source(source_id)
    segments = repository.list_segments(source.id)
    codebook = repository.latest_codebook(source.project_id)
    modes = modes_to_run(options.suggestion_mode, codebook)
    if not modes or not segments:
        return []
    if Mode.DEDUCTIVE in modes and codebook is not None:
        # The codebook's own index item may still be queued beside this one (an import that does not wait, a
        # restarted broker): bring the codes index up to date here; when it already is, this only compares.
        index_codebook(repository, embedder, vectors, source.project_id, codebook.name)
    candidates, exemplars = _retrieve(embedder, vectors, source, segments, codebook, modes, options)
    requests = build_requests(source, segments, modes, codebook, candidates, exemplars)
    # Only the coded speakers' turns get suggestions; every segment still serves as another's context.
    coded = {segment.id for segment in codable(source, segments, repository.coding_scope(source.project_id))}
    requests = [request for request in requests if request.segment_id in coded]
    scoped = backend_for(source.project_id)
    name = scoped[0].backend.backend_name
    suggestions: list[Suggestion] = []
    for coder_id, backend, feedback in scoped:
        asked = requests
        if feedback:  # the LLM backend's examples of this scope
            asked = [request.model_copy(update={"feedback": list(feedback)}) for request in requests]
        found = to_suggestions(asked, asyncio.run(backend.suggest(asked)), coder_id=coder_id)
        if Mode.INDUCTIVE in modes:
            embed_labels = label_vectors or LabelVectors(embedder)
            found = relabel(found, _merged_labels(store, embed_labels, source, found))
        suggestions += found
    store.replace_for_segments(
        [segment.id for segment in segments], name, suggestions, modes=[mode.value for mode in modes]
    )
    # A segment no longer coded loses this backend's suggestions of every mode, not only of those run.
    store.replace_for_segments([s.id for s in segments if s.id not in coded], name, [])
    return []


def rerank_project(repository: Repository, suggest: Callable[[str], FollowUps], subject: str) -> FollowUps:
    """The rerank stage: a coder's answers reached a milestone (``project:coder:milestone``), so every
    source of the project is suggested again with what they now teach."""
    project_id = subject.split(":", 1)[0]
    for source in repository.list_sources(project_id):
        suggest(source.id)
    return []


def _retrieve(
    embedder: Embedder,
    vectors: VectorStore,
    source: Source,
    segments: Sequence[Segment],
    codebook: Codebook | None,
    modes: Sequence[Mode],
    options: SuggestOptions,
) -> tuple[list[list[CodeCandidate]], list[list[SegmentHit]]]:
    """Candidates and exemplars per segment, in batches, each text embedded once."""
    empty: list[list[SegmentHit]] = [[] for _ in segments]
    if Mode.DEDUCTIVE not in modes or codebook is None:
        return [[] for _ in segments], empty
    exemplars_indexed = vectors.count(collection(source.project_id, CollectionKind.EXEMPLARS, embedder)) > 0
    candidates: list[list[CodeCandidate]] = []
    exemplars: list[list[SegmentHit]] = []
    for batch in batched(segments, options.suggestion_batch_size):
        texts = [segment.text for segment in batch]
        queries = embedder.embed_queries(texts)
        candidates += candidate_codes(
            embedder,
            vectors,
            source.project_id,
            texts,
            k=options.suggestion_candidates,
            codebook=codebook.name,
            vectors=queries,
        )
        if exemplars_indexed and options.suggestion_exemplars:
            exemplars += similar_segments(
                embedder,
                vectors,
                source.project_id,
                texts,
                k=options.suggestion_exemplars,
                exclude_segment_ids=[segment.id for segment in batch],
                vectors=queries,
            )
        else:
            exemplars += [[] for _ in batch]
    return candidates, exemplars


def _merged_labels(
    store: SuggestionStore, label_vectors: LabelVectors, source: Source, suggestions: Sequence[Suggestion]
) -> dict[str, str]:
    """How the new proposed labels merge with each other and with the labels of the project's other
    sources (this source's old ones are left out, so that running again gives the same result)."""
    existing = store.summary(source.project_id, exclude_source_id=source.id)
    counts: Counter[str] = Counter({row.proposed_label: row.count for row in existing if row.proposed_label})
    counts.update(s.proposed_label for s in suggestions if s.proposed_label)
    labels = sorted(counts)
    if not labels:
        return {}
    return merge_labels(counts, label_vectors(labels))
