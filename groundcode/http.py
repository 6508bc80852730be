"""What every groundcode HTTP service shares: the lifespan (adapters + queue), logging, and the health,
work-item and metrics routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError
from sqlalchemy import text

from groundcode.app import Groundcode, open_groundcode
from groundcode.auth import OperationsAccess
from groundcode.domain import PermissionDenied, Stage, WorkItem
from groundcode.errors import AccountError, CodebookRaceError, NotFoundError
from groundcode.observability import configure_logging, metrics_exposition
from groundcode.queue.taskiq_queue import WorkService
from groundcode.settings import Settings
from groundcode.storage.decisions import VersionConflict
from services.adjudication.service import AdjudicationError


def service_lifespan(
    settings: Settings, *, run_workers: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the adapters and the work queue for the app's lifetime (workers included if asked)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        groundcode = open_groundcode(settings)
        try:
            async with groundcode.work_service(consume=None if run_workers else ()) as work:
                app.state.groundcode = groundcode
                app.state.work = work
                yield
        finally:
            groundcode.close()

    return lifespan


def build_app(
    settings: Settings, *, title: str, description: str, routers: Sequence[APIRouter], run_workers: bool
) -> FastAPI:
    """A service app: the shared lifespan, logging, error handling and operations routes, plus ``routers``."""
    configure_logging(settings)
    app = FastAPI(
        title=title, description=description, lifespan=service_lifespan(settings, run_workers=run_workers)
    )
    install_error_handlers(app)
    app.middleware("http")(no_sniffing)
    app.include_router(core_router)
    for router in routers:
        app.include_router(router)
    return app


async def no_sniffing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Every answer says ``X-Content-Type-Options: nosniff``: browsers take its declared type as given."""
    response = await call_next(request)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def get_groundcode(request: Request) -> Groundcode:
    groundcode: Groundcode = request.app.state.groundcode
    return groundcode


def get_work(request: Request) -> WorkService:
    work: WorkService = request.app.state.work
    return work


GroundcodeDep = Annotated[Groundcode, Depends(get_groundcode)]
WorkDep = Annotated[WorkService, Depends(get_work)]


ERROR_STATUS: dict[type[Exception], int] = {
    NotFoundError: 404,  # unknown projects, sources, segments, codebooks
    PermissionDenied: 403,  # a member whose role does not allow the action
    VersionConflict: 409,  # the review changed since it was loaded
    CodebookRaceError: 409,  # two edits stored the same codebook version at once
    AdjudicationError: 400,  # a decision that cannot be made as asked
    AccountError: 400,
}


def install_error_handlers(app: FastAPI) -> None:
    """Domain errors answer with their status and their message as the reason."""

    async def answer(_request: Request, error: Exception) -> JSONResponse:
        code = next(code for kind, code in ERROR_STATUS.items() if isinstance(error, kind))
        return JSONResponse(status_code=code, content={"detail": str(error)})

    for kind in ERROR_STATUS:
        app.add_exception_handler(kind, answer)
    app.add_exception_handler(ValidationError, answer_invalid_options)


async def answer_invalid_options(_request: Request, error: Exception) -> JSONResponse:
    """A model built from the request's values refused them (e.g. ``max_chars`` below ``min_chars``):
    422 naming each problem, as for a request that does not match the API's schema."""
    assert isinstance(error, ValidationError)
    problems = [
        {"loc": list(problem["loc"]), "msg": problem["msg"], "type": problem["type"]}
        for problem in error.errors(include_url=False)
    ]
    return JSONResponse(status_code=422, content={"detail": problems})


class WorkStatusReport(BaseModel):
    counts: dict[str, dict[str, int]]
    failures: list[WorkItem]


class RetryReport(BaseModel):
    retried: list[WorkItem]


core_router = APIRouter()


@core_router.get("/health", tags=["operations"])
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@core_router.get("/ready", tags=["operations"])
def ready(groundcode: GroundcodeDep) -> dict[str, str]:
    """Readiness: the database answers."""
    try:
        with groundcode.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        raise HTTPException(
            status_code=503, detail=f"database unavailable: {type(error).__name__}"
        ) from error
    return {"status": "ready"}


@core_router.get("/work-items", tags=["queue"], dependencies=[OperationsAccess])
def work_items(groundcode: GroundcodeDep) -> WorkStatusReport:
    """Work items by stage and status, and the failed ones with their errors."""
    counts: dict[str, dict[str, int]] = {}
    for (stage, status), count in groundcode.work_items.counts().items():
        counts.setdefault(stage, {})[status] = count
    return WorkStatusReport(counts=counts, failures=groundcode.work_items.failures())


@core_router.post("/work-items/retry", tags=["queue"], dependencies=[OperationsAccess])
async def retry_failed(work: WorkDep, stage: Stage | None = None) -> RetryReport:
    """Send failed work items again with a fresh attempt budget."""
    return RetryReport(retried=await work.runner.retry_failed(stage))


@core_router.get(
    "/metrics",
    tags=["operations"],
    dependencies=[OperationsAccess],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}},
)
def metrics(groundcode: GroundcodeDep) -> Response:
    """Prometheus metrics: queue depth, items processed, handler and LLM call durations, LLM tokens."""
    exposition = metrics_exposition(groundcode.work_items.counts())
    return Response(content=exposition, media_type=CONTENT_TYPE_LATEST)
