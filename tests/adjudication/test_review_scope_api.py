"""Over real HTTP: "no code applies" as a decision, which speakers get suggestions (a project setting), and
the review order that puts the least certain segments first."""

from __future__ import annotations

from typing import Any

import httpx

from groundcode.app import open_groundcode
from groundcode.domain import Stage, WorkStatus
from services.adjudication.ordering import margin
from tests.adjudication.conftest import Team
from tests.live_server import poll_until

Json = dict[str, Any]
INTERVIEWERS = {"Interviewer", "مصاحبه‌گر"}


def view_of(client: httpx.Client, segment_id: str | None = None, **params: str) -> Json:
    path = "/projects/study/review" + (f"/{segment_id}" if segment_id else "")
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    view: Json = response.json()
    return view


def decide(client: httpx.Client, body: Json) -> httpx.Response:
    return client.post("/projects/study/decisions", json=body)


def accept_first(client: httpx.Client, view: Json, version: int) -> httpx.Response:
    first = next(c for c in view["candidates"] if c["mode"] == "deductive")
    return decide(
        client, {"action": "accept", "suggestion_ids": [first["suggestion_id"]], "version": version}
    )


def queue(client: httpx.Client, **params: str) -> list[Json]:
    """Every view of the queue, in its order (following ``next`` from the first)."""
    views = [view_of(client, **params)]
    while len(views) < views[0]["queue_length"]:
        views.append(view_of(client, views[-1]["next_segment_id"], **params))
    return views


def suggested_again(team: Team) -> None:
    """Wait until every source's suggest item is done (a change of scope made them pending)."""
    groundcode = open_groundcode(team.settings)
    try:
        source_ids = [
            s.id for s in groundcode.repository.list_sources(groundcode.repository.get_project("study").id)
        ]
        poll_until(
            lambda: groundcode.work_items.find(Stage.SUGGEST, source_ids),
            lambda items: all(item.status is WorkStatus.DONE for item in items),
            "the sources were not suggested again",
        )
    finally:
        groundcode.close()


def test_no_code_applies_takes_the_segment_out_of_the_queue_and_undo_brings_it_back(team: Team) -> None:
    view = view_of(team.coder)
    assert view["unit"] == "turn" and not view["no_code"]
    marked = decide(team.coder, {"action": "no_code", "segment_id": view["segment_id"], "version": 0})
    assert marked.status_code == 200, marked.text
    assert [d["kind"] for d in marked.json()["decisions"]] == ["no_code"]

    again = view_of(team.coder, view["segment_id"])
    assert again["no_code"] and again["reviewed"] and again["queue_index"] is None
    assert view_of(team.coder)["segment_id"] != view["segment_id"]
    assert view_of(team.coder, status="reviewed")["segment_id"] == view["segment_id"]
    assert team.coder.get("/projects/study/codings").json() == []  # a real answer, but not a coding
    assert sum(p["reviewed"] for p in team.coder.get("/projects/study/progress").json()) == 1
    assert not view_of(team.owner, view["segment_id"])["no_code"]  # the coder's own answer

    undone = team.coder.post("/projects/study/undo").json()
    assert undone["undone"]["kind"] == "no_code"
    restored = view_of(team.coder, view["segment_id"])
    assert not restored["no_code"] and not restored["reviewed"]
    assert view_of(team.coder)["segment_id"] == view["segment_id"]


def test_no_code_is_refused_over_codings_and_a_later_coding_supersedes_it(team: Team) -> None:
    view = view_of(team.coder)
    segment = view["segment_id"]
    assert accept_first(team.coder, view, 0).is_success
    refused = decide(team.coder, {"action": "no_code", "segment_id": segment, "version": 1})
    assert refused.status_code == 400 and "you have codings on this segment" in refused.json()["detail"]

    team.coder.post("/projects/study/undo")
    assert decide(team.coder, {"action": "no_code", "segment_id": segment, "version": 2}).is_success
    assert view_of(team.coder, segment)["no_code"]
    assert accept_first(team.coder, view, 3).is_success
    superseded = view_of(team.coder, segment)
    assert not superseded["no_code"] and superseded["reviewed"] and len(superseded["codings"]) == 1


def test_interviewer_turns_get_no_suggestions_unless_the_owner_codes_them(team: Team) -> None:
    default = queue(team.owner, status="all")
    assert len(default) == 7 and not {v["speaker"] for v in default} & INTERVIEWERS
    settings = team.coder.get("/projects/study/settings").json()
    assert settings["coding_scope"]["rule"] == "default"
    assert settings["coded"].startswith("every speaker except interviewers")

    everyone = {"coding_scope": {"rule": "all"}}
    assert team.coder.put("/projects/study/settings", json=everyone).status_code == 403
    invalid = team.owner.put("/projects/study/settings", json={"coding_scope": {"rule": "pattern"}})
    assert invalid.status_code == 422
    changed = team.owner.put("/projects/study/settings", json=everyone)
    assert changed.status_code == 200 and changed.json()["coded"] == "every speaker, interviewers too"
    suggested_again(team)
    widened = queue(team.owner, status="all")
    assert len(widened) == 14 and "What about the law?" in {v["text"] for v in widened}

    participants = {"coding_scope": {"rule": "speakers", "speakers": ["P1"]}}
    assert team.owner.put("/projects/study/settings", json=participants).is_success
    suggested_again(team)
    narrowed = queue(team.owner, status="all")  # the suggestions of speakers no longer coded are gone
    assert len(narrowed) == 5 and {v["speaker"] for v in narrowed} == {"P1"}


def test_the_uncertain_order_puts_the_smallest_margin_between_the_top_suggestions_first(team: Team) -> None:
    in_source = queue(team.coder, status="all")
    uncertain = queue(team.coder, status="all", order="uncertain")
    margins = [margin([c["confidence"] for c in v["candidates"]]) for v in uncertain]
    assert margins == sorted(margins)
    assert sorted(v["segment_id"] for v in uncertain) == sorted(v["segment_id"] for v in in_source)
    assert view_of(team.coder, order="uncertain")["segment_id"] == uncertain[0]["segment_id"]
    assert team.coder.get("/projects/study/review", params={"order": "random"}).status_code == 422
