"""Import and chunk stage logic: file bytes -> Source, and Source -> Segments. Pure functions plus the
two small use cases that tie them to the repository."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel, Field

from groundcode.bounded import BoundExceededError, ParseBounds, run_bounded
from groundcode.domain import Segment, Source, Stage, content_hash, derived_id
from groundcode.storage.repository import Repository
from services.chunking.errors import UnreadableFileError
from services.chunking.language import detect_language
from services.chunking.readers import Block, ExtractedDocument, read_document
from services.chunking.segmenter import ChunkOptions, SegmentSpan, segment_document


class ReadOptions(BaseModel):
    """How to read files: the size limit, which CSV columns hold answers and respondent ids, and the bounds
    of the child process that reads each file (None: read in this process, for trusted files only)."""

    max_bytes: int = Field(gt=0)
    csv_column: str | None = None
    csv_id_column: str | None = None
    bounds: ParseBounds | None = None


def read_file(filename: str, data: bytes, read: ReadOptions) -> ExtractedDocument:
    """``read_document`` with the options, in a bounded child process when ``read.bounds`` is set."""
    reader = functools.partial(
        read_document, max_bytes=read.max_bytes, csv_column=read.csv_column, csv_id_column=read.csv_id_column
    )
    if read.bounds is None:
        return reader(filename, data)
    try:
        return run_bounded(read.bounds, filename, reader, filename, data)
    except BoundExceededError as error:
        raise UnreadableFileError(filename, error.problem) from error


def build_source(
    project_id: str,
    filename: str,
    data: bytes,
    options: ChunkOptions,
    read: ReadOptions,
    *,
    metadata: dict[str, Any] | None = None,
) -> Source:
    """Read a file into a Source whose text is exactly what segment offsets will refer to.

    Raises ``UnreadableFileError`` naming the file and the problem. The chunking options and the
    structure the format itself gave (speaker turns, survey rows, subtitle cues) travel with the
    source, so the chunk stage needs nothing but the source id.
    """
    document = read_file(filename, data, read)
    language = options.language or detect_language(document.text)
    return Source(
        project_id=project_id,
        name=PurePath(filename).name,
        format=document.format,
        language=language,
        text=document.text,
        content_hash=content_hash(document.text),
        metadata={
            **(metadata or {}),
            "encoding": document.encoding,
            "chunking": options.model_copy(update={"language": language}).model_dump(mode="json"),
            "blocks": [block.model_dump(mode="json") for block in document.blocks],
        },
    )


class ImportResult(BaseModel):
    """What happened to one file of an import: stored, already there, or refused (with the reason)."""

    filename: str
    source_id: str | None = None
    created: bool = False
    error: str | None = None


def import_file(
    repository: Repository,
    project_id: str,
    filename: str,
    data: bytes,
    options: ChunkOptions,
    read: ReadOptions,
) -> ImportResult:
    """Store one file as a source. A bad file gives an error result and writes nothing."""
    try:
        source = build_source(project_id, filename, data, options, read)
    except UnreadableFileError as error:
        return ImportResult(filename=filename, error=str(error))
    stored, created = repository.add_source(source)
    return ImportResult(filename=filename, source_id=stored.id, created=created)


def segments_for(source: Source) -> list[Segment]:
    """Cut a stored source into segments with the options it was imported with."""
    document = ExtractedDocument(
        text=source.text,
        format=source.format,
        encoding=source.metadata.get("encoding"),
        blocks=[Block.model_validate(block) for block in source.metadata.get("blocks", [])],
    )
    options = ChunkOptions.model_validate(source.metadata.get("chunking", {}))
    spans = segment_document(document, options)
    return [_segment(source, position, span) for position, span in enumerate(spans)]


def _segment(source: Source, position: int, span: SegmentSpan) -> Segment:
    # The id is derived from the span, so re-chunking after a redelivery produces identical rows.
    return Segment(
        id=derived_id(source.id, span.unit.value, str(span.start), str(span.end)),
        source_id=source.id,
        position=position,
        start=span.start,
        end=span.end,
        text=source.text[span.start : span.end],
        unit=span.unit,
        speaker=span.speaker,
        metadata=span.metadata,
    )


def chunk_source(repository: Repository, source_id: str) -> Sequence[tuple[Stage, str]]:
    """The chunk stage handler: (re)build a source's segments, then hand them on to be indexed. Idempotent."""
    source = repository.get_source(source_id)
    repository.replace_segments(source.id, segments_for(source))
    return [(Stage.INDEX, source.id)]
