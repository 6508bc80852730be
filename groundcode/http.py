"""What every groundcode HTTP service shares: the lifespan (adapters + queue), health and work-item routes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from groundcode.app import Groundcode, open_groundcode
from groundcode.domain import Stage, WorkItem
from groundcode.queue import WorkService
from groundcode.settings import Settings
from groundcode.storage.repository import NotFoundError


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
    """A service app: the shared lifespan, error handling and health/queue routes, plus ``routers``."""
    app = FastAPI(
        title=title, description=description, lifespan=service_lifespan(settings, run_workers=run_workers)
    )
    install_error_handlers(app)
    app.include_router(core_router)
    for router in routers:
        app.include_router(router)
    return app


def get_groundcode(request: Request) -> Groundcode:
    groundcode: Groundcode = request.app.state.groundcode
    return groundcode


def get_work(request: Request) -> WorkService:
    work: WorkService = request.app.state.work
    return work


GroundcodeDep = Annotated[Groundcode, Depends(get_groundcode)]
WorkDep = Annotated[WorkService, Depends(get_work)]


def install_error_handlers(app: FastAPI) -> None:
    """Unknown projects, sources and codebooks answer 404 with the reason."""

    async def not_found(_request: Request, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(error)})

    app.add_exception_handler(NotFoundError, not_found)


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


@core_router.get("/work-items", tags=["queue"])
def work_items(groundcode: GroundcodeDep) -> WorkStatusReport:
    """Work items by stage and status, and the failed ones with their errors."""
    counts: dict[str, dict[str, int]] = {}
    for (stage, status), count in groundcode.work_items.counts().items():
        counts.setdefault(stage, {})[status] = count
    return WorkStatusReport(counts=counts, failures=groundcode.work_items.failures())


@core_router.post("/work-items/retry", tags=["queue"])
async def retry_failed(work: WorkDep, stage: Stage | None = None) -> RetryReport:
    """Send failed work items again with a fresh attempt budget."""
    return RetryReport(retried=await work.runner.retry_failed(stage))
