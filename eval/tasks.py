"""Evaluation tasks that run through the real services, as a researcher's project would: import a text,
chunk it, index it and the codebook, and suggest codes with the configured backend (offline or an LLM).

* axial assignment: the parents of a published codebook become a codebook, each child text a segment (one
  paragraph each, in an order shuffled by the seed, so that neighbouring context does not give siblings
  away); the deductive suggestions, best first, are the prediction;
* open coding: inductive suggestion over seed 000's abstract and discussion; the proposed labels are
  compared with the published concepts by embedding similarity (``eval.metrics.coverage`` matches them).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from eval.seeds import (
    INITIAL_CODES_FILE,
    PARADIGM_FILE,
    THEMES_FILE,
    AxialDataset,
    Dataset,
    TaskName,
    Unit,
    code_to_image,
    concept_to_component,
    paradigm_model,
    subtheme_to_theme,
)
from groundcode.app import Groundcode
from groundcode.domain import Code, Codebook, Project, Segment, SegmentUnit, Stage, Suggestion, derived_id
from groundcode.settings import Settings
from services.chunking.ingest import ReadOptions, import_file
from services.chunking.segmenter import ChunkOptions
from services.suggestion.stage import ModeSetting, suggest_source

AXIAL_TASKS: dict[TaskName, tuple[str, Callable[[Dataset], AxialDataset]]] = {
    TaskName.SUBTHEME_THEME: (THEMES_FILE, subtheme_to_theme),
    TaskName.CODE_IMAGE: (INITIAL_CODES_FILE, code_to_image),
    TaskName.CONCEPT_COMPONENT: (PARADIGM_FILE, concept_to_component),
}
"""Each axial task's dataset file and how its gold units are built from it."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Provenance(_Model):
    """What produced the suggestions that were scored."""

    backend: str
    model: str | None
    prompt_versions: list[str]  # of the prompt templates used; none for the offline backend


class Prediction(_Model):
    text: str
    gold: list[str]
    ranked: list[str]  # code names, best first; empty when the model gave none
    confidences: list[float]


class AxialRun(_Model):
    dataset: AxialDataset
    predictions: list[Prediction]
    provenance: Provenance


class OpenCodingRun(_Model):
    file: str
    version: str
    labels: list[str]  # the distinct proposed labels
    published: list[str]  # the concepts named in the paper
    similarity: list[list[float]]  # labels x published, cosine
    published_similarity: list[list[float]]  # published x published, cosine
    provenance: Provenance


class BackendOptions(_Model):
    """Which suggestion backend a run uses, as given on the command line."""

    backend: Literal["offline", "llm"] = "offline"
    model: str | None = None  # a litellm chat model; implies the llm backend
    api_base: str | None = None
    seed: int = 0  # the unit order, --limit's sample and the bootstrap

    def command_line(self, command: str) -> str:
        """The command that reproduces the run (the report records it)."""
        flags = [
            f"--{name.replace('_', '-')} {value}"
            for name, value in self.model_dump().items()
            if value is not None
        ]
        return " ".join(["groundcode eval", command, *flags])

    def settings(self, base: Settings, data_dir: Path, *, allow_remote: bool = True) -> Settings:
        """``base`` with this backend and model, and an embedded database and vector store in ``data_dir``.

        Remote models are allowed by default: the seed texts are published codebooks, not a participant's
        words. A user project's texts leave the machine only with the user's consent (``allow_remote``).
        """
        llm = {"llm_model": self.model, "llm_api_base": self.api_base}
        return base.model_copy(
            update={
                "data_dir": data_dir,
                "database_url": None,
                "chroma_host": None,
                "queue": "inprocess",
                "suggestion_backend": "llm" if self.model else self.backend,
                "llm_allow_remote": allow_remote,
                "embedding_cache_dir": base.embedding_cache_dir or shared_embedding_cache(),
                **{key: value for key, value in llm.items() if value is not None},
            }
        )


def shared_embedding_cache() -> Path:
    """The embedding cache evaluation runs share across their temporary databases, unless the settings name
    one (``GROUNDCODE_EMBEDDING_CACHE_DIR``): the user's cache folder."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "groundcode" / "embeddings"


class RunOptions(BackendOptions):
    """How a task is run and scored, as given on the command line."""

    limit: int | None = Field(default=None, ge=1)
    resamples: int = Field(default=1000, ge=1)
    threshold: float | None = None  # open coding only; None: derived from the published concepts


def choose_units(units: Sequence[Unit], *, seed: int, limit: int | None = None) -> list[Unit]:
    """The units in an order shuffled by ``seed``, at most ``limit`` of them. Pure."""
    chosen = list(units)
    random.Random(seed).shuffle(chosen)
    return chosen[:limit] if limit is not None else chosen


class Setup(_Model):
    """A project prepared in an evaluation database: its codebook (indexed), its sources (chunked and
    indexed) and the segments that are the units, in the order they are scored or reviewed."""

    project: Project
    codebook: Codebook
    source_ids: list[str]
    segments: list[Segment]


def run_axial(
    groundcode: Groundcode, dataset: AxialDataset, *, seed: int, limit: int | None = None
) -> AxialRun:
    """Suggest a parent for each unit of ``dataset`` through the suggest stage, every parent a candidate."""
    units = choose_units(dataset.units, seed=seed, limit=limit)
    setup = setup_axial(groundcode, dataset, [unit.text for unit in units])
    suggestions = suggest_codes(groundcode, setup)
    names = {code.id: code.name for code in setup.codebook.codes}
    predictions = [
        Prediction(
            text=unit.text,
            gold=unit.gold,
            ranked=[names[s.code_id] for s in found if s.code_id],
            confidences=[s.confidence for s in found if s.code_id],
        )
        for unit, found in zip(units, by_segment(setup.segments, suggestions), strict=True)
    ]
    return AxialRun(dataset=dataset, predictions=predictions, provenance=provenance(groundcode, suggestions))


def setup_axial(groundcode: Groundcode, dataset: AxialDataset, texts: Sequence[str]) -> Setup:
    """The parents of ``dataset`` as the codebook, and ``texts`` as one source of one paragraph each."""
    repository = groundcode.repository
    project = repository.ensure_project(dataset.name)
    codes = [
        Code(id=derived_id("eval", dataset.name, parent.name), name=parent.name, definition=parent.definition)
        for parent in dataset.parents
    ]
    codebook, _ = repository.save_codebook(project.id, dataset.name, codes)
    source_id = _import_paragraphs(groundcode, project.id, f"{dataset.name}.txt", texts)
    groundcode.handlers()[Stage.INDEX_CODEBOOK](codebook.id)
    segments = repository.list_segments(source_id)
    if [segment.text for segment in segments] != list(texts):
        raise ValueError("the evaluation texts were not chunked one paragraph per text")
    return Setup(project=project, codebook=codebook, source_ids=[source_id], segments=segments)


def suggest_codes(groundcode: Groundcode, setup: Setup, *, exemplars: int = 0) -> list[Suggestion]:
    """The deductive suggest stage over the setup's sources, every code a candidate, with up to
    ``exemplars`` similar coded segments per segment (none exist before a review)."""
    candidates = len(setup.codebook.codes)
    return [
        suggestion
        for source_id in setup.source_ids
        for suggestion in _suggest(
            groundcode, source_id, "deductive", candidates=candidates, exemplars=exemplars
        )
    ]


def run_open_coding(groundcode: Groundcode, dataset: Dataset) -> OpenCodingRun:
    """Inductive suggestion over seed 000's abstract and discussion, and each proposed label's similarity
    to each published concept."""
    model = paradigm_model(dataset)
    project = groundcode.repository.ensure_project("open-coding")
    text = "\n\n".join(model.texts[part] for part in ("abstract", "discussion"))
    source_id = _import(groundcode, project.id, "seed000.txt", text, SegmentUnit.SENTENCE)
    suggestions = _suggest(groundcode, source_id, "inductive", candidates=1)
    labels = sorted({s.proposed_label for s in suggestions if s.proposed_label})
    published = [concept.name for component in model.components for concept in component.concepts]
    embedder = groundcode.embedder
    concepts = np.asarray(embedder.embed_passages(published))
    vectors = np.asarray(embedder.embed_passages(labels)).reshape(len(labels), concepts.shape[1])
    similarity = vectors @ concepts.T
    return OpenCodingRun(
        file=dataset.file,
        version=dataset.version,
        labels=labels,
        published=published,
        similarity=similarity.tolist(),
        published_similarity=(concepts @ concepts.T).tolist(),
        provenance=provenance(groundcode, suggestions),
    )


def _import_paragraphs(groundcode: Groundcode, project_id: str, name: str, texts: Sequence[str]) -> str:
    return _import(groundcode, project_id, name, "\n\n".join(texts), SegmentUnit.PARAGRAPH)


def _import(groundcode: Groundcode, project_id: str, name: str, text: str, unit: SegmentUnit) -> str:
    """Import ``text`` as a source, then chunk and index it with the stage handlers; returns its id."""
    return import_source(groundcode, project_id, name, text.encode("utf-8"), ChunkOptions(unit=unit))


def import_source(
    groundcode: Groundcode,
    project_id: str,
    name: str,
    data: bytes,
    chunk: ChunkOptions,
    *,
    csv_column: str | None = None,
) -> str:
    """Import a file as a source, then chunk and index it with the stage handlers; returns its id."""
    read = ReadOptions(max_bytes=groundcode.settings.max_file_bytes, csv_column=csv_column)
    result = import_file(groundcode.repository, project_id, name, data, chunk, read)
    if result.source_id is None:
        raise ValueError(f"the evaluation text was refused: {result.error}")
    handlers = groundcode.handlers()
    handlers[Stage.CHUNK](result.source_id)
    handlers[Stage.INDEX](result.source_id)
    return result.source_id


def _suggest(
    groundcode: Groundcode, source_id: str, mode: ModeSetting, *, candidates: int, exemplars: int = 0
) -> list[Suggestion]:
    """The suggest stage over the source with ``candidates`` codes and ``exemplars`` coded segments offered
    per segment."""
    options = groundcode.settings.model_copy(
        update={
            "suggestion_mode": mode,
            "suggestion_candidates": candidates,
            "suggestion_exemplars": exemplars,
        }
    )
    suggest_source(
        groundcode.repository,
        groundcode.suggestions,
        groundcode.embedder,
        groundcode.vector_store,
        groundcode.suggestion_backends,
        options,
        source_id,
        label_vectors=groundcode.label_vectors,
    )
    return [s for s in groundcode.suggestions.list_for_source(source_id) if s.mode == mode]


def by_segment(segments: Sequence[Segment], suggestions: Sequence[Suggestion]) -> list[list[Suggestion]]:
    """Each segment's suggestions, best first (none for a segment not among ``segments``). Pure."""
    found: dict[str, list[Suggestion]] = {segment.id: [] for segment in segments}
    for suggestion in sorted(suggestions, key=lambda s: s.rank):
        found.get(suggestion.segment_id, []).append(suggestion)
    return [found[segment.id] for segment in segments]


def provenance(groundcode: Groundcode, suggestions: Sequence[Suggestion]) -> Provenance:
    settings: Settings = groundcode.settings
    models = ", ".join(sorted({s.model for s in suggestions if s.model}))
    configured = settings.llm_model if settings.suggestion_backend == "llm" else None
    return Provenance(
        backend=settings.suggestion_backend,
        model=models or configured,
        prompt_versions=sorted({s.prompt_version for s in suggestions if s.prompt_version}),
    )
