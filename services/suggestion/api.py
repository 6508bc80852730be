"""HTTP API of the suggestion service: read suggestions, and ask for them again.

Suggestions are never codings: they wait for a researcher's decision (the adjudication service).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, status
from pydantic import Field

from groundcode.auth import ProjectCoder, ProjectReader
from groundcode.domain import Model, Stage, Suggestion, WorkItem
from groundcode.http import GroundcodeDep, WorkDep, build_app
from groundcode.settings import Settings
from groundcode.storage.suggestions import SuggestionCount


class SuggestRequest(Model):
    sources: list[str] = Field(default_factory=list, description="Source names or ids; empty: all sources.")


router = APIRouter(tags=["suggestion"])


@router.get("/projects/{project}/sources/{source}/suggestions")
def source_suggestions(who: ProjectReader, source: str, groundcode: GroundcodeDep) -> list[Suggestion]:
    """The source's suggestions as this member reviews them (a blind coder's own, once learnt from their
    decisions), by segment and rank, with their provenance (backend, model, prompt)."""
    target = who.project
    return groundcode.suggestions.list_for_source(
        groundcode.repository.find_source(target.id, source).id,
        coder_id=groundcode.suggestions.scope_for(target.id, who.user.id),
    )


@router.get("/projects/{project}/suggestions/summary")
def suggestion_summary(who: ProjectReader, groundcode: GroundcodeDep) -> list[SuggestionCount]:
    """How often each code or proposed label was suggested across the project (as this member reviews)."""
    scope = groundcode.suggestions.scope_for(who.project.id, who.user.id)
    return groundcode.suggestions.summary(who.project.id, coder_id=scope)


@router.post("/projects/{project}/suggest", status_code=status.HTTP_202_ACCEPTED)
async def suggest_again(
    who: ProjectCoder, request: SuggestRequest, groundcode: GroundcodeDep, work: WorkDep
) -> list[WorkItem]:
    """Queue the suggest stage again for the sources (replacing their earlier suggestions of the
    configured backend); poll ``/work-items`` or the suggestions."""
    target = who.project
    sources = [groundcode.repository.find_source(target.id, name) for name in request.sources]
    ids = [source.id for source in sources or groundcode.repository.list_sources(target.id)]
    groundcode.work_items.reset(Stage.SUGGEST, ids)
    return [await work.runner.submit(Stage.SUGGEST, source_id) for source_id in ids]


def create_app(settings: Settings, *, run_workers: bool = True) -> FastAPI:
    """The suggestion service app; with ``run_workers`` its queue workers run in the same process."""
    return build_app(
        settings,
        title="groundcode suggestion service",
        description="Ranked candidate codes for segments, with confidence, rationale, quote and provenance.",
        routers=[router],
        run_workers=run_workers,
    )
