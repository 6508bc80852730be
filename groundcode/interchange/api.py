"""HTTP routes for REFI-QDA projects: export for any member (blind coding applies), import for owners."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Response, UploadFile, status

from groundcode import state
from groundcode.auth import ProjectOwner, ProjectReader
from groundcode.bounded import BoundExceededError, run_bounded
from groundcode.domain import SegmentUnit
from groundcode.http import GroundcodeDep, WorkDep
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.mapping import parse_user_map
from groundcode.interchange.projects import ImportSummary, export_project, import_project
from groundcode.interchange.refiqda import read_project
from services.chunking.segmenter import ChunkOptions

router = APIRouter(tags=["interchange"])

QDPX_MEDIA_TYPE = "application/zip"


@router.get("/projects/{project}/export.qdpx", response_class=Response)
def export_qdpx(who: ProjectReader, groundcode: GroundcodeDep) -> Response:
    """The project as a REFI-QDA archive (ATLAS.ti, MAXQDA, NVivo, QualCoder): its texts, latest codebook, and
    the codings in force and memos that you may see (with blind coding, a coder's own only)."""
    project = who.project
    decisions = groundcode.adjudication.visible_decisions(who)
    hidden = groundcode.adjudication.hidden_codes(who)
    memos = state.visible_memos(
        groundcode.memos.current(project.id),
        who.user.id,
        who.role,
        blind=project.blind,
        revealed=project.revealed,
        decision_ids={decision.id for decision in decisions},
        hidden=hidden,
    )
    try:
        data, _exported = export_project(groundcode, project, decisions, hidden, memos)
    except InterchangeError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    filename = quote(f"{project.name}.qdpx")
    return Response(
        data,
        media_type=QDPX_MEDIA_TYPE,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


@router.post("/projects/{project}/import-qdpx")
async def import_qdpx(
    who: ProjectOwner,
    file: UploadFile,
    groundcode: GroundcodeDep,
    work: WorkDep,
    unit: Annotated[SegmentUnit, Form()] = SegmentUnit.SENTENCE,
    language: Annotated[str | None, Form()] = None,
    map_user: Annotated[list[str] | None, Form(description="GUID=username, repeatable.")] = None,
) -> ImportSummary:
    """Import a REFI-QDA project (.qdpx or .qde) into this project, all or nothing: its texts, codebook, users
    (as coders) and their codings. Indexing, suggesting and learning continue on the queue. The file's users
    become new accounts without a password unless ``map_user`` binds a user GUID to an existing account."""
    try:
        user_map = parse_user_map(map_user or [])
    except ValueError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"map_user: {error}") from error
    limit = groundcode.settings.max_file_bytes
    name = file.filename or "upload"
    data = await file.read(limit + 1)  # one byte past the limit tells an oversized file
    if len(data) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"{name}: larger than the limit of {limit} bytes (GROUNDCODE_MAX_FILE_BYTES)",
        )
    options = ChunkOptions(unit=unit, language=language)
    bounds = groundcode.settings.parse_bounds()  # the file is read in a bounded child process
    try:
        outcome = await asyncio.to_thread(
            lambda: import_project(
                groundcode,
                who.project.name,
                run_bounded(bounds, name, read_project, data),
                options,
                where=name,
                user_map=user_map,
            )
        )
    except (InterchangeError, BoundExceededError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{name}: nothing imported: {error}") from error
    for stage, subject_ids in outcome.work:
        for subject_id in subject_ids:
            await work.runner.submit(stage, subject_id)
    return outcome.summary
