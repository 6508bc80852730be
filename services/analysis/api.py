"""HTTP routes of the analysis service: saturation curves (JSON, PNG), axial-coding proposals, codebook
edits and memos.

Any member may read the curves and proposals (as blind coding lets them see the decisions); applying a
grouping changes the codebook, so it is for owners and coders, and the new version is indexed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from groundcode.auth import ProjectCoder, ProjectOwner, ProjectReader
from groundcode.domain import Codebook, MemoKind, Stage
from groundcode.http import GroundcodeDep, WorkDep
from groundcode.queue.taskiq_queue import WorkService
from services.analysis.axial import AxialApplyRequest, AxialOptions, AxialProposal, GroupingError, Linkage
from services.analysis.codebook_edit import CodebookEditError, CodeEdit
from services.analysis.cooccurrence import CooccurrenceReport
from services.analysis.exports import cooccurrence_table, csv_text
from services.analysis.memos import MemoError, MemoView, MemoWrite
from services.analysis.plots import cooccurrence_png, saturation_png
from services.analysis.saturation import (
    ModeChoice,
    Order,
    SaturationReport,
    SaturationRule,
    SuggestionSelection,
)
from services.analysis.service import analysis_of

router = APIRouter(tags=["analysis"])
_Answer = TypeVar("_Answer")


def saturation_query(
    who: ProjectReader,
    groundcode: GroundcodeDep,
    order: Order = "name",
    window: Annotated[int, Query(ge=1, description="k: consecutive interviews that confirm.")] = 3,
    max_new: Annotated[int, Query(ge=0, description="m: new codes they may add together.")] = 0,
    top: Annotated[int, Query(ge=1, description="Suggestions per segment and mode that count.")] = 1,
    min_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
    mode: ModeChoice = "deductive",
) -> SaturationReport:
    return analysis_of(groundcode).saturation(
        who,
        order,
        SaturationRule(window=window, max_new=max_new),
        SuggestionSelection(top=top, min_confidence=min_confidence, mode=mode),
    )


@router.get("/projects/{project}/saturation")
async def saturation(report: Annotated[SaturationReport, Depends(saturation_query)]) -> SaturationReport:
    """New and cumulative distinct codes per interview, from the codings in force and from suggestions, and
    where each curve flattens: the first interview after which ``window`` consecutive coded interviews add
    at most ``max_new`` new codes together."""
    return report


@router.get("/projects/{project}/saturation.png", response_class=Response)
async def saturation_plot(report: Annotated[SaturationReport, Depends(saturation_query)]) -> Response:
    """The saturation curves as a PNG image (same parameters as ``/saturation``)."""
    return Response(await asyncio.to_thread(saturation_png, report), media_type="image/png")


WindowQuery = Annotated[
    int, Query(ge=0, le=50, description="0: codes on the same segment; n: within n segments of each other.")
]


@router.get("/projects/{project}/cooccurrence")
async def cooccurrence(
    who: ProjectReader, groundcode: GroundcodeDep, window: WindowQuery = 0
) -> CooccurrenceReport:
    """Which codes are applied together: for each pair of codes, the segments coded with the first that
    have the second on the same segment (or within ``window`` segments in the same source), over the
    codings you may see; with ATLAS.ti's c-coefficient for the same segment."""
    return await asyncio.to_thread(analysis_of(groundcode).cooccurrence, who, window)


@router.get("/projects/{project}/cooccurrence.csv", response_class=Response)
async def cooccurrence_csv(
    who: ProjectReader, groundcode: GroundcodeDep, window: WindowQuery = 0
) -> Response:
    """The co-occurrence table as CSV (UTF-8 with BOM)."""
    report = await asyncio.to_thread(analysis_of(groundcode).cooccurrence, who, window)
    return Response(
        csv_text(cooccurrence_table(report)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{who.project.name}-cooccurrence.csv"'},
    )


@router.get("/projects/{project}/cooccurrence.png", response_class=Response)
async def cooccurrence_plot(
    who: ProjectReader, groundcode: GroundcodeDep, window: WindowQuery = 0
) -> Response:
    """The co-occurrence table as a heat map (PNG)."""
    report = await asyncio.to_thread(analysis_of(groundcode).cooccurrence, who, window)
    return Response(await asyncio.to_thread(cooccurrence_png, report), media_type="image/png")


@router.get("/projects/{project}/axial/proposal")
async def axial_proposal(
    who: ProjectReader,
    groundcode: GroundcodeDep,
    groups: Annotated[int | None, Query(ge=1)] = None,
    distance_threshold: Annotated[float | None, Query(gt=0.0)] = None,
    embedding_weight: Annotated[float, Query(ge=0.0, le=1.0)] = 0.5,
    linkage: Linkage = "ward",
) -> AxialProposal:
    """A proposed grouping of the accepted open codes into categories, by meaning and co-occurrence, each
    named after its most representative code. Nothing changes until you apply it."""
    try:
        options = AxialOptions(
            groups=groups,
            distance_threshold=distance_threshold,
            embedding_weight=embedding_weight,
            linkage=linkage,
        )
    except ValueError as error:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(error)) from error
    return await asyncio.to_thread(analysis_of(groundcode).axial_proposal, who, options)


@router.post("/projects/{project}/codebook/edit")
async def codebook_edit(
    request: CodeEdit, who: ProjectOwner, groundcode: GroundcodeDep, work: WorkDep
) -> Codebook:
    """Rename, re-define, recolour, move or retire one code (owners): a new codebook version, indexed again.
    409 if the codebook changed since ``codebook_version``."""
    return await _new_version(work, partial(analysis_of(groundcode).edit_code, who, request))


@router.post("/projects/{project}/axial/apply")
async def axial_apply(
    request: AxialApplyRequest, who: ProjectCoder, groundcode: GroundcodeDep, work: WorkDep
) -> Codebook:
    """Apply the groups you accepted (renamed, codes moved as you like): a new codebook version where each
    group's code is the parent of its codes. 409 if the codebook changed since ``codebook_version``."""
    return await _new_version(work, partial(analysis_of(groundcode).apply_axial, who, request))


async def _new_version(work: WorkService, save: Callable[[], tuple[Codebook, bool]]) -> Codebook:
    """Store a new codebook version off the event loop (400 for a change that cannot be made) and index it
    again if it changed."""
    try:
        codebook, changed = await asyncio.to_thread(save)
    except (CodebookEditError, GroupingError) as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    if changed:
        await work.runner.submit(Stage.INDEX_CODEBOOK, codebook.id)
    return codebook


@router.get("/projects/{project}/memos")
async def memo_list(
    who: ProjectReader,
    groundcode: GroundcodeDep,
    kind: MemoKind | None = None,
    subject: Annotated[
        str | None, Query(max_length=300, description="A source, code or coding (name or id); needs kind.")
    ] = None,
    q: Annotated[str | None, Query(max_length=300, description="Only memos containing this text.")] = None,
) -> list[MemoView]:
    """The memos you may see as they stand: the project memo, the journal, and the memos of sources,
    codes and codings (blind coding hides other coders' journal entries and coding memos)."""
    return await _memo_call(partial(analysis_of(groundcode).memo_list, who, kind, subject, q))


@router.post("/projects/{project}/memos")
async def memo_write(request: MemoWrite, who: ProjectCoder, groundcode: GroundcodeDep) -> MemoView:
    """Write a memo (owners and coders): its next version is stored and the earlier ones kept. 409 if
    someone saved another version since the ``version`` you loaded."""
    return await _memo_call(partial(analysis_of(groundcode).write_memo, who, request))


@router.delete("/projects/{project}/memos/{memo_id}", status_code=status.HTTP_204_NO_CONTENT)
async def memo_delete(
    memo_id: str,
    who: ProjectCoder,
    groundcode: GroundcodeDep,
    version: Annotated[int, Query(ge=1, description="The version you are deleting.")],
) -> None:
    """Delete a memo (a deleted version is appended: its history stays). 409 if it changed since."""
    await _memo_call(partial(analysis_of(groundcode).delete_memo, who, memo_id, version))


@router.get("/projects/{project}/memos/{memo_id}/history")
async def memo_history(memo_id: str, who: ProjectReader, groundcode: GroundcodeDep) -> list[MemoView]:
    """Every version of a memo, oldest first, each with its author and time."""
    return await _memo_call(partial(analysis_of(groundcode).memo_history, who, memo_id))


@router.get("/projects/{project}/memos.md", response_class=Response)
async def memos_markdown(who: ProjectReader, groundcode: GroundcodeDep) -> Response:
    """Every memo you may see as one Markdown document, section by section."""
    text = await _memo_call(partial(analysis_of(groundcode).memos_markdown, who))
    return Response(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{who.project.name}-memos.md"'},
    )


async def _memo_call(call: Callable[[], _Answer]) -> _Answer:
    """Run a memo operation off the event loop; a request that cannot be carried out is a 400."""
    try:
        return await asyncio.to_thread(call)
    except MemoError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
