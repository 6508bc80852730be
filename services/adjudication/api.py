"""HTTP API of the adjudication service: review, decide, undo, bulk-accept, merge, progress, codings, members.

Routes stay thin: authentication and membership come from ``groundcode.auth``, the work from
``services.adjudication.service``. Every decision's learn work item is created with the decision and
published here, so accepted codings become exemplars without the researcher waiting for it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from pydantic import Field

from groundcode.auth import (
    CSRF_HEADER,
    SESSION_COOKIE,
    CurrentUser,
    ProjectCoder,
    ProjectOwner,
    ProjectReader,
)
from groundcode.coding_scope import CodingScope
from groundcode.domain import Codebook, Decision, Member, Model, Project, Role, Stage
from groundcode.http import GroundcodeDep, WorkDep, build_app
from groundcode.queue.taskiq_queue import WorkService
from groundcode.settings import Settings
from groundcode.storage.accounts import SESSION_LIFETIME
from services.adjudication.models import (
    BulkAcceptRequest,
    BulkPreview,
    BulkRequest,
    CodeCount,
    CodingFilter,
    CodingRow,
    DecideRequest,
    DecisionResult,
    Me,
    MergeRequest,
    ReviewFilter,
    ReviewStatus,
    SegmentView,
    SourceProgress,
    UndoResult,
)
from services.adjudication.ordering import ReviewOrder
from services.adjudication.pages import page_router
from services.adjudication.service import Outcome
from services.analysis.exports import codings_table, csv_text

router = APIRouter(tags=["adjudication"])
account_router = APIRouter(tags=["accounts"])


class NewProject(Model):
    name: str = Field(min_length=1, max_length=200)


class MemberRole(Model):
    role: Role


class Visibility(Model):
    blind: bool | None = Field(default=None, description="Coders see only their own decisions.")
    revealed: bool | None = Field(default=None, description="Show every coder's decisions to all members.")


class ProjectSettingsUpdate(Model):
    coding_scope: CodingScope = Field(description="Which speakers' turns get suggestions.")


class ProjectSettings(ProjectSettingsUpdate):
    coded: str = Field(description="The coding scope in words, as the review page shows it.")


def review_filter(
    source: str | None = None,
    code: str | None = None,
    min_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    max_confidence: Annotated[float, Query(ge=0.0, le=1.0)] = 1.0,
    status: ReviewStatus = "todo",
    order: ReviewOrder = "source",
) -> ReviewFilter:
    return ReviewFilter(
        source_id=source or None,  # an empty form field means "any"
        code_id=code or None,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        status=status,
        order=order,
    )


ReviewFilterDep = Annotated[ReviewFilter, Depends(review_filter)]


# Accounts


@account_router.post("/login", include_in_schema=False)
def login(
    request: Request,
    groundcode: GroundcodeDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next_page: Annotated[str, Form(alias="next")] = "/review",
) -> Response:
    """The review page's login form: sets the session cookie and goes on to the page. Failed logins are
    throttled per account and per address (429 with ``Retry-After``)."""
    client = request.client.host if request.client else "unknown"  # a trusted proxy's X-Forwarded-For
    keys = [f"user:{username.casefold()}", f"address:{client}"]
    wait = groundcode.accounts.login_wait(keys)
    if wait > timedelta(0):
        seconds = math.ceil(wait.total_seconds())
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins for this account or from this address: try again in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
    user = groundcode.accounts.check_password(username, password)
    if user is None:
        groundcode.accounts.record_login_failure(keys)
        retry = "/login?" + urlencode({"failed": 1, "next": next_page})
        return RedirectResponse(retry, status_code=status.HTTP_303_SEE_OTHER)
    groundcode.accounts.clear_login_failures(keys)
    token = groundcode.accounts.issue_token(user.id, kind="session", label="web login")
    # Only a path on this site: "//host" and "/\\host" would send the researcher elsewhere.
    local = next_page.startswith("/") and not next_page.startswith(("//", "/\\"))
    target = next_page if local else "/review"
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",  # behind a proxy: uvicorn's FORWARDED_ALLOW_IPS
    )
    return response


@account_router.post("/logout", include_in_schema=False)
def logout(request: Request, groundcode: GroundcodeDep) -> Response:
    """End the login session; like every state-changing cookie request, it needs the CSRF header."""
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.headers.get(CSRF_HEADER) is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"requests with the session cookie need {CSRF_HEADER}")
    if token:
        groundcode.accounts.revoke_token(token)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response


@account_router.get("/me")
def me(user: CurrentUser, groundcode: GroundcodeDep) -> Me:
    """Who you are, and your role in each of your projects."""
    projects = {project.name: role for project, role in groundcode.accounts.projects_of(user.id)}
    return Me(username=user.username, display_name=user.display_name, projects=projects)


@account_router.post("/projects", status_code=status.HTTP_201_CREATED)
def create_project(request: NewProject, user: CurrentUser, groundcode: GroundcodeDep) -> Project:
    """Create a project; you become its owner."""
    if groundcode.repository.find_project(request.name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"a project named {request.name!r} already exists")
    project = groundcode.repository.ensure_project(request.name)
    groundcode.accounts.set_member(project.id, user.id, Role.OWNER)
    return project


# Reviewing


@router.get("/projects/{project}/review")
async def next_for_me(
    who: ProjectReader, groundcode: GroundcodeDep, where: ReviewFilterDep
) -> SegmentView | None:
    """The next segment for you to review (with its candidates and context), or null when none is left."""
    return await asyncio.to_thread(groundcode.adjudication.segment_view, who, where)


@router.get("/projects/{project}/review/{segment_id}")
async def review_segment(
    segment_id: str, who: ProjectReader, groundcode: GroundcodeDep, where: ReviewFilterDep
) -> SegmentView:
    """One segment under review; ``previous``/``next`` follow the filtered queue."""
    view = await asyncio.to_thread(groundcode.adjudication.segment_view, who, where, segment_id)
    assert view is not None  # a named segment always has a view
    return view


@router.post("/projects/{project}/decisions")
async def decide(
    request: DecideRequest, who: ProjectCoder, groundcode: GroundcodeDep, work: WorkDep
) -> DecisionResult:
    """Accept (one or several), reject with a reason, edit, create a code from a proposal, code by hand, or
    skip. ``version`` is the review version you saw: 409 if the review changed meanwhile."""
    outcome = await asyncio.to_thread(groundcode.adjudication.decide, who, request)
    return await _published(work, outcome)


@router.post("/projects/{project}/undo")
async def undo(who: ProjectCoder, groundcode: GroundcodeDep, work: WorkDep) -> UndoResult:
    """Cancel your most recent decision still in force."""
    result, codebook = await asyncio.to_thread(groundcode.adjudication.undo, who)
    await _publish(work, [result.undo] if result.undo else [], codebook)
    return result


@router.post("/projects/{project}/merge")
async def merge_codes(
    request: MergeRequest, who: ProjectCoder, groundcode: GroundcodeDep, work: WorkDep
) -> DecisionResult:
    """Merge one code into another (undo restores it)."""
    outcome = await asyncio.to_thread(groundcode.adjudication.merge, who, request)
    return await _published(work, outcome)


@router.post("/projects/{project}/bulk/preview")
async def bulk_preview(request: BulkRequest, who: ProjectCoder, groundcode: GroundcodeDep) -> BulkPreview:
    """What bulk acceptance would accept: one code's suggestions at or above a confidence, on segments you
    have not reviewed."""
    return await asyncio.to_thread(groundcode.adjudication.bulk_preview, who, request)


@router.post("/projects/{project}/bulk/accept")
async def bulk_accept(
    request: BulkAcceptRequest, who: ProjectCoder, groundcode: GroundcodeDep, work: WorkDep
) -> DecisionResult:
    """Accept the previewed suggestions that still qualify."""
    outcome = await asyncio.to_thread(groundcode.adjudication.bulk_accept, who, request)
    return await _published(work, outcome)


@router.get("/projects/{project}/progress")
async def progress(who: ProjectReader, groundcode: GroundcodeDep) -> list[SourceProgress]:
    """Reviewed and remaining segments per source, for you."""
    return await asyncio.to_thread(groundcode.adjudication.progress, who)


@router.get("/projects/{project}/codebook/counts")
async def codebook_counts(who: ProjectReader, groundcode: GroundcodeDep) -> list[CodeCount]:
    """The codebook with the accepted codings per code (yours only, while coding is blind)."""
    return await asyncio.to_thread(groundcode.adjudication.code_counts, who)


CodingFilterDep = Annotated[CodingFilter, Query()]


@router.get("/projects/{project}/codings")
async def codings(who: ProjectReader, groundcode: GroundcodeDep, where: CodingFilterDep) -> list[CodingRow]:
    """The codings you may see (accepted, edited, created or hand-made; suggestions are not codings), of a
    code and its sub-codes, a coder or a source if asked."""
    return await asyncio.to_thread(groundcode.adjudication.coding_rows, who, where)


@router.get("/projects/{project}/codings.csv", response_class=Response)
async def codings_csv(who: ProjectReader, groundcode: GroundcodeDep, where: CodingFilterDep) -> Response:
    """The codings as CSV (UTF-8 with BOM, so spreadsheet programs read Persian correctly; no formulas)."""
    rows = await asyncio.to_thread(groundcode.adjudication.coding_rows, who, where)
    return Response(
        csv_text(codings_table(rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{who.project.name}-codings.csv"'},
    )


@router.get("/projects/{project}/decisions")
async def decision_log(who: ProjectReader, groundcode: GroundcodeDep) -> list[Decision]:
    """The decisions you may see, oldest first: the audit trail the codings are derived from."""
    return await asyncio.to_thread(groundcode.adjudication.visible_decisions, who)


# Members


@router.get("/projects/{project}/members")
def members(who: ProjectReader, groundcode: GroundcodeDep) -> list[Member]:
    return groundcode.accounts.members(who.project.id)


@router.put("/projects/{project}/members/{username}")
def set_member(
    username: str, request: MemberRole, who: ProjectOwner, groundcode: GroundcodeDep
) -> list[Member]:
    """Add a user to the project, or change their role (owners only); a project always keeps an owner."""
    user = groundcode.accounts.get_user(username)
    owners = {m.user.id for m in groundcode.accounts.members(who.project.id) if m.role == Role.OWNER}
    if request.role != Role.OWNER and owners == {user.id}:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"{username} is the project's only owner")
    groundcode.accounts.set_member(who.project.id, user.id, request.role)
    return groundcode.accounts.members(who.project.id)


@router.delete("/projects/{project}/members/{username}")
def remove_member(username: str, who: ProjectOwner, groundcode: GroundcodeDep) -> list[Member]:
    user = groundcode.accounts.get_user(username)
    if user.id == who.user.id:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "owners cannot remove themselves")
    groundcode.accounts.remove_member(who.project.id, user.id)
    return groundcode.accounts.members(who.project.id)


@router.post("/projects/{project}/visibility")
async def set_visibility(
    request: Visibility, who: ProjectOwner, groundcode: GroundcodeDep, work: WorkDep
) -> Project:
    """Blind coding on/off, and revealing every coder's decisions (owners only); either approves every
    coder's new code."""
    codebook = await asyncio.to_thread(
        groundcode.adjudication.set_visibility, who, blind=request.blind, revealed=request.revealed
    )
    await _publish(work, [], codebook)
    return groundcode.repository.get_project(who.project.name)


@router.get("/projects/{project}/settings")
def project_settings(who: ProjectReader, groundcode: GroundcodeDep) -> ProjectSettings:
    """The project's settings: which speakers are coded."""
    scope = groundcode.repository.coding_scope(who.project.id)
    return ProjectSettings(coding_scope=scope, coded=scope.describe())


@router.put("/projects/{project}/settings")
async def set_project_settings(
    request: ProjectSettingsUpdate, who: ProjectOwner, groundcode: GroundcodeDep, work: WorkDep
) -> ProjectSettings:
    """Change which speakers are coded (owners only); every source is suggested again, so segments no
    longer coded lose their suggestions and newly coded ones get theirs."""
    source_ids = await asyncio.to_thread(groundcode.set_coding_scope, who.project.id, request.coding_scope)
    for source_id in source_ids:
        await work.runner.submit(Stage.SUGGEST, source_id)
    return await asyncio.to_thread(project_settings, who, groundcode)


@router.post("/projects/{project}/codes/{code_id}/approve")
async def approve_code(
    code_id: str, who: ProjectOwner, groundcode: GroundcodeDep, work: WorkDep
) -> CodeCount:
    """Approve a coder's new code (owners only): the other coders see it, and it is suggested from now on."""
    codebook = await asyncio.to_thread(groundcode.adjudication.approve_code, who, code_id)
    await _publish(work, [], codebook)
    counts = await asyncio.to_thread(groundcode.adjudication.code_counts, who)
    return next(count for count in counts if count.code_id == code_id)


async def _published(work: WorkService, outcome: Outcome) -> DecisionResult:
    await _publish(work, outcome.result.decisions, outcome.codebook_changed)
    return outcome.result


async def _publish(work: WorkService, decisions: Sequence[Decision], codebook: Codebook | None) -> None:
    """Send the decisions' learn items (already stored with them) and re-index a changed codebook."""
    for decision in decisions:
        await work.runner.submit(Stage.LEARN, decision.id)
    if codebook is not None:
        await work.runner.submit(Stage.INDEX_CODEBOOK, codebook.id)


def create_app(settings: Settings, *, run_workers: bool = True) -> FastAPI:
    """The adjudication service app; with ``run_workers`` its queue workers run in the same process."""
    return build_app(
        settings,
        title="groundcode adjudication service",
        description="Review suggestions: accept, reject with a reason, edit, merge, undo; several coders.",
        routers=[account_router, router, page_router],
        run_workers=run_workers,
    )
