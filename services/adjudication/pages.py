"""The review, analysis, memo and document web pages: server-rendered HTML shells (``project_page.html``);
each page's script (``static/<page>.js``, with ``static/common.js``) reads and writes everything through the
JSON API (``services.adjudication.api``, ``services.analysis.api``) with the login session cookie.

Pages load only files served here (the Content-Security-Policy forbids anything else), so the page works
offline and transcript text can never run as script.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from groundcode.app import Groundcode
from groundcode.auth import optional_user
from groundcode.domain import REJECT_REASONS, User
from groundcode.http import GroundcodeDep

HERE = Path(__file__).parent
STATIC_PATH = "/static/adjudication"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("1–9", "accept that suggestion (press several for several)"),
    ("↑ ↓", "move between suggestions"),
    ("r", "reject the focused one, with a reason"),
    ("e", "edit: another code or span"),
    ("n", "new code from a proposed label"),
    ("m", "merge two codes"),
    ("0", "no code applies to this segment"),
    ("s", "skip this segment"),
    ("u", "undo your last decision"),
    ("j k", "next / previous segment"),
    ("b", "bulk accept"),
    ("f", "filters"),
    ("?", "show / hide these shortcuts"),
    ("Esc", "close a dialog"),
)

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals["static"] = STATIC_PATH

page_router = APIRouter(include_in_schema=False)
page_router.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="adjudication-static")

OptionalUser = Annotated[User | None, Depends(optional_user)]


def _page(request: Request, template: str, **context: object) -> Response:
    response = templates.TemplateResponse(request, template, context)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@page_router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/review")


@page_router.get("/login")
def login_page(
    request: Request, failed: bool = False, next_page: Annotated[str, Query(alias="next")] = "/review"
) -> Response:
    """The login form; it posts to ``POST /login``, which sets the session cookie."""
    return _page(request, "login.html", failed=failed, next_page=next_page)


def _project_page(
    request: Request,
    user: User | None,
    groundcode: Groundcode,
    project: str | None,
    template: str,
    **context: object,
) -> Response:
    """A page of one project for its members: the login form first when signed out, the list of your
    projects when none (or a foreign one) is named."""
    if user is None:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/login?" + urlencode({"next": wanted}))
    roles = {found.name: role for found, role in groundcode.accounts.projects_of(user.id)}
    if project is None or project not in roles:
        return _page(request, "projects.html", user=user, projects=roles, missing=project)
    page = template.removesuffix(".html")  # its script is static/<page>.js (project_page.html)
    return _page(request, template, user=user, project=project, role=roles[project], page=page, **context)


@page_router.get("/review")
def review_page(
    request: Request, user: OptionalUser, groundcode: GroundcodeDep, project: str | None = None
) -> Response:
    """The review page of one project."""
    return _project_page(
        request, user, groundcode, project, "review.html", reasons=REJECT_REASONS, shortcuts=SHORTCUTS
    )


@page_router.get("/analysis")
def analysis_page(
    request: Request, user: OptionalUser, groundcode: GroundcodeDep, project: str | None = None
) -> Response:
    """The analysis page of one project: its saturation curves and the axial-coding proposal to apply
    (read-only for viewers); ``static/analysis.js`` fills it from the analysis API."""
    return _project_page(request, user, groundcode, project, "analysis.html")


@page_router.get("/memos")
def memos_page(
    request: Request, user: OptionalUser, groundcode: GroundcodeDep, project: str | None = None
) -> Response:
    """The memos of one project: the project memo, the journal, and the memos of sources, codes and
    codings, to write, search, read back through their history and export (read-only for viewers);
    ``static/memos.js`` works through the memo API."""
    return _project_page(request, user, groundcode, project, "memos.html")


@page_router.get("/document")
def document_page(
    request: Request,
    user: OptionalUser,
    groundcode: GroundcodeDep,
    project: str | None = None,
    source: Annotated[str, Query(max_length=300)] = "",
    segment: Annotated[str, Query(max_length=36)] = "",
) -> Response:
    """One source's whole transcript with the codings you may see highlighted in their code colours; select
    a span to code it, click a coding to see who made it, when and from what suggestion
    (``static/document.js`` works through the JSON API). ``segment`` scrolls to that segment (the review
    page links here)."""
    return _project_page(request, user, groundcode, project, "document.html", source=source, segment=segment)
