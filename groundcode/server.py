"""The embedded default's single HTTP app: every service's routes in one process (``groundcode serve``)."""

from __future__ import annotations

from fastapi import FastAPI

from groundcode.http import build_app
from groundcode.interchange.api import router as interchange_router
from groundcode.settings import Settings
from services.adjudication.api import account_router
from services.adjudication.api import router as adjudication_router
from services.adjudication.pages import page_router
from services.analysis.api import router as analysis_router
from services.chunking.api import router as chunking_router
from services.retrieval.api import router as retrieval_router
from services.suggestion.api import router as suggestion_router


def create_app(settings: Settings, *, run_workers: bool = True) -> FastAPI:
    """All routes of all services, with the stage workers in this process unless told otherwise."""
    return build_app(
        settings,
        title="groundcode",
        description="Import and chunk transcripts, find candidate codes and similar segments, suggest codes, "
        "and review the suggestions: accept, reject, edit, merge, undo.",
        routers=[
            account_router,
            chunking_router,
            retrieval_router,
            suggestion_router,
            adjudication_router,
            page_router,
            analysis_router,
            interchange_router,
        ],
        run_workers=run_workers,
    )
