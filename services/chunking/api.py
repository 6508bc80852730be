"""HTTP API of the ingest & chunking service: upload files, list sources, read segments."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Query, UploadFile, status
from pydantic import BaseModel

from groundcode.auth import CurrentUser, ProjectReader, project_access
from groundcode.domain import Project, Role, Segment, SegmentUnit, Source, Stage
from groundcode.http import GroundcodeDep, WorkDep, build_app
from groundcode.settings import Settings
from services.chunking.ingest import ImportResult, ReadOptions, import_file
from services.chunking.segmenter import ChunkOptions


class SourceSummary(BaseModel):
    id: str
    name: str
    format: str
    language: str | None
    characters: int
    segments: int


class ImportReport(BaseModel):
    results: list[ImportResult]


router = APIRouter(tags=["chunking"])


def project_for_upload(project: str, user: CurrentUser, groundcode: GroundcodeDep) -> Project:
    """The project to import into: an existing one the user may change, or a new one they then own."""
    if groundcode.repository.find_project(project) is None:
        created = groundcode.repository.ensure_project(project)
        if not groundcode.accounts.members(created.id):  # else another request created it first
            groundcode.accounts.set_member(created.id, user.id, Role.OWNER)
    access = project_access(project, user, groundcode)
    access.require(Role.OWNER, Role.CODER)
    return access.project


@router.post("/projects/{project}/sources", status_code=status.HTTP_202_ACCEPTED)
async def upload_sources(
    target: Annotated[Project, Depends(project_for_upload)],
    files: list[UploadFile],
    groundcode: GroundcodeDep,
    work: WorkDep,
    unit: Annotated[SegmentUnit, Form()] = SegmentUnit.SENTENCE,
    language: Annotated[str | None, Form()] = None,
    min_chars: Annotated[int, Form(ge=0)] = 0,
    max_chars: Annotated[int | None, Form(ge=1)] = None,
    csv_column: Annotated[str | None, Form()] = None,
    csv_id_column: Annotated[str | None, Form()] = None,
) -> ImportReport:
    """Import files; each is reported as imported, already imported, or refused with the reason.

    Each file is read in a child process within ``GROUNDCODE_PARSE_MEMORY_BYTES`` and
    ``GROUNDCODE_PARSE_TIMEOUT_SECONDS``, so a hostile file never holds the server. Chunking continues on
    the queue; poll the segments or ``/work-items``.
    """
    options = ChunkOptions(unit=unit, language=language, min_chars=min_chars, max_chars=max_chars)
    settings = groundcode.settings
    limit = settings.max_file_bytes
    read = ReadOptions(
        max_bytes=limit, csv_column=csv_column, csv_id_column=csv_id_column, bounds=settings.parse_bounds()
    )
    results = []
    for upload in files:
        # Read one byte past the limit: enough for the reader to refuse an oversized file by name.
        data = await upload.read(limit + 1)
        name = upload.filename or "upload"
        result = await asyncio.to_thread(
            import_file, groundcode.repository, target.id, name, data, options, read
        )
        if result.source_id:
            await work.runner.submit(Stage.CHUNK, result.source_id)
        results.append(result)
    return ImportReport(results=results)


@router.get("/projects/{project}/sources")
def list_sources(who: ProjectReader, groundcode: GroundcodeDep) -> list[SourceSummary]:
    """The project's sources with their segment counts."""
    target = who.project
    counts = groundcode.repository.segment_counts(target.id)
    return [
        SourceSummary(
            id=source.id,
            name=source.name,
            format=source.format,
            language=source.language,
            characters=len(source.text),
            segments=counts.get(source.id, 0),
        )
        for source in groundcode.repository.list_sources(target.id)
    ]


@router.get("/projects/{project}/sources/{source}")
def get_source(who: ProjectReader, source: str, groundcode: GroundcodeDep) -> Source:
    """One source, with the exact text its segment offsets refer to."""
    target = who.project
    return groundcode.repository.find_source(target.id, source)


@router.get("/projects/{project}/sources/{source}/segments")
def list_segments(
    who: ProjectReader,
    source: str,
    groundcode: GroundcodeDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[Segment]:
    """A page of the source's segments in order, with code-point offsets into the source text."""
    target = who.project
    found = groundcode.repository.find_source(target.id, source)
    return groundcode.repository.list_segments(found.id, offset=offset, limit=limit)


def create_app(settings: Settings, *, run_workers: bool = True) -> FastAPI:
    """The chunking service app; with ``run_workers`` its queue workers run in the same process."""
    return build_app(
        settings,
        title="groundcode chunking service",
        description="Import transcripts and cut them into segments with exact character offsets.",
        routers=[router],
        run_workers=run_workers,
    )
