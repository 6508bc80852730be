"""The adjudication API over real HTTP: decisions, undo, bulk, merge, blind coding, auth and isolation."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.adjudication.conftest import Team
from tests.live_server import poll_until

Json = dict[str, Any]


def next_segment(client: httpx.Client, **params: Any) -> Json:
    response = client.get("/projects/study/review", params=params)
    assert response.status_code == 200, response.text
    view: Json = response.json()
    return view


def deductive(view: Json) -> list[Json]:
    return [c for c in view["candidates"] if c["mode"] == "deductive"]


def decide(client: httpx.Client, body: Json) -> httpx.Response:
    return client.post("/projects/study/decisions", json=body)


def codings(client: httpx.Client) -> list[Json]:
    rows: list[Json] = client.get("/projects/study/codings").json()
    return rows


def test_accept_then_undo_restores_the_state_and_keeps_both_decisions(team: Team) -> None:
    view = next_segment(team.coder)
    assert view["project"] == "study" and view["queue_index"] == 1 and view["version"] == 0
    assert codings(team.coder) == []  # suggestions are not codings
    candidate = deductive(view)[0]
    accepted = decide(
        team.coder, {"action": "accept", "suggestion_ids": [candidate["suggestion_id"]], "version": 0}
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["version"] == 1
    [coding] = codings(team.coder)
    assert coding["code"] == candidate["code_name"] and coding["coder"] == "cyrus"
    assert (coding["start"], coding["end"]) == (candidate["quote_start"], candidate["quote_end"])
    assert coding["backend"] == "offline"

    undone = team.coder.post("/projects/study/undo").json()
    assert undone["undone"]["id"] == accepted.json()["decisions"][0]["id"]
    assert codings(team.coder) == []
    log = team.coder.get("/projects/study/decisions").json()
    assert [d["kind"] for d in log] == ["accept", "undo"]  # nothing deleted
    assert log[0]["suggestion"]["backend"] == "offline" and log[0]["suggestion"]["prompt_version"] is None
    assert team.coder.post("/projects/study/undo").json()["undone"] is None  # nothing left to undo


def test_a_decision_on_a_stale_version_is_refused(team: Team) -> None:
    view = next_segment(team.coder)
    first, second = deductive(view)[0], view["candidates"][-1]
    assert decide(
        team.coder, {"action": "accept", "suggestion_ids": [first["suggestion_id"]], "version": 0}
    ).is_success
    stale = decide(
        team.coder,
        {"action": "reject", "suggestion_id": second["suggestion_id"], "reason": "too_broad", "version": 0},
    )
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]


def test_the_same_coder_racing_on_one_version_wins_once(team: Team) -> None:
    view = next_segment(team.coder)
    body = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(lambda _: decide(team.coder, body).status_code, range(6)))
    assert statuses == [200] + [409] * 5
    assert len(codings(team.coder)) == 1


def test_two_coders_on_the_same_suggestion_at_once_both_count(team: Team) -> None:
    view = next_segment(team.coder)
    body = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(lambda client: decide(client, body), [team.coder, team.owner]))
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(c["coder"] for c in codings(team.owner)) == ["cyrus", "olga"]


def test_reject_needs_a_reason_from_the_list(team: Team) -> None:
    view = next_segment(team.coder)
    suggestion_id = deductive(view)[0]["suggestion_id"]
    missing = decide(team.coder, {"action": "reject", "suggestion_id": suggestion_id, "version": 0})
    assert missing.status_code == 422
    odd = decide(
        team.coder, {"action": "reject", "suggestion_id": suggestion_id, "reason": "meh", "version": 0}
    )
    assert odd.status_code == 422
    body = {
        "action": "reject",
        "suggestion_id": suggestion_id,
        "reason": "wrong_code",
        "note": "about IT",
        "version": 0,
    }
    assert decide(team.coder, body).is_success
    again = team.coder.get(f"/projects/study/review/{view['segment_id']}").json()
    rejected = next(c for c in again["candidates"] if c["suggestion_id"] == suggestion_id)
    assert (rejected["my_decision"], rejected["my_reason"]) == ("reject", "wrong_code")
    assert again["reviewed"] and codings(team.coder) == []
    # The reviewed segment leaves the to-do queue; the next one comes up.
    assert next_segment(team.coder)["segment_id"] != view["segment_id"]


def test_edit_codes_another_code_and_an_adjusted_span(team: Team) -> None:
    view = next_segment(team.coder)
    candidate = deductive(view)[0]
    codes = {c["name"]: c["code_id"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    other = next(code_id for code_id in codes.values() if code_id != candidate["code_id"])
    span = {"start": view["start"] + 4, "end": view["start"] + 12}
    body = {
        "action": "edit",
        "suggestion_id": candidate["suggestion_id"],
        "code_id": other,
        "version": 0,
        **span,
    }
    assert decide(team.coder, body).is_success
    [coding] = codings(team.coder)
    assert coding["code_id"] == other and (coding["start"], coding["end"]) == (span["start"], span["end"])
    outside = {**body, "start": 0, "end": 10**6, "version": 1}
    assert decide(team.coder, outside).status_code == 400


def test_an_inductive_proposal_becomes_a_new_code_and_undo_takes_it_back(team: Team) -> None:
    view = next_segment(team.coder, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    assert proposal["weaker_than_llm"]
    accept = decide(
        team.coder, {"action": "accept", "suggestion_ids": [proposal["suggestion_id"]], "version": 0}
    )
    assert accept.status_code == 400 and "create_code" in accept.json()["detail"]
    body = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "name": "Hardware purchases",
        "definition": "Buying servers and devices.",
        "version": 0,
    }
    assert decide(team.coder, body).is_success
    counts = {c["name"]: c for c in team.coder.get("/projects/study/codebook/counts").json()}
    assert counts["Hardware purchases"]["codings"] == 1
    assert counts["Hardware purchases"]["definition"] == "Buying servers and devices."
    team.coder.post("/projects/study/undo")
    names = {c["name"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    assert "Hardware purchases" not in names


def test_merging_codes_counts_codings_under_the_kept_code_until_undone(team: Team) -> None:
    codes = {c["name"]: c["code_id"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    view = next_segment(team.owner, code=codes["Trust"])
    trust = next(c for c in view["candidates"] if c["code_id"] == codes["Trust"])
    assert decide(
        team.owner, {"action": "accept", "suggestion_ids": [trust["suggestion_id"]], "version": 0}
    ).is_success
    merge = team.owner.post(
        "/projects/study/merge", json={"code_id": codes["Legal barriers"], "merged_code_id": codes["Trust"]}
    )
    assert merge.is_success, merge.text
    counts = {c["name"]: c["codings"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    assert "Trust" not in counts and counts["Legal barriers"] == 1
    assert codings(team.owner)[0]["code"] == "Legal barriers"
    team.owner.post("/projects/study/undo")
    counts = {c["name"]: c["codings"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    assert counts["Trust"] == 1 and counts["Legal barriers"] == 0


def test_skip_puts_a_segment_at_the_end_of_the_queue(team: Team) -> None:
    first = next_segment(team.coder)
    assert decide(team.coder, {"action": "skip", "segment_id": first["segment_id"], "version": 0}).is_success
    later = next_segment(team.coder)
    assert later["segment_id"] != first["segment_id"]
    assert next_segment(team.coder, status="skipped")["segment_id"] == first["segment_id"]
    progress = team.coder.get("/projects/study/progress").json()
    assert sum(p["skipped"] for p in progress) == 1 and sum(p["reviewed"] for p in progress) == 0


def test_bulk_accept_accepts_exactly_what_the_preview_showed(team: Team) -> None:
    codes = {c["name"]: c["code_id"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    request = {"code_id": codes["Budget constraints"], "min_confidence": 0.3}
    preview = team.coder.post("/projects/study/bulk/preview", json=request).json()
    assert preview["code_name"] == "Budget constraints" and preview["items"]
    assert all(item["confidence"] >= 0.3 for item in preview["items"])
    ids = [item["suggestion_id"] for item in preview["items"]]
    accepted = team.coder.post("/projects/study/bulk/accept", json={**request, "suggestion_ids": ids}).json()
    assert sorted(d["suggestion_id"] for d in accepted["decisions"]) == sorted(ids)
    assert {c["code"] for c in codings(team.coder)} == {"Budget constraints"}
    # Accepted segments are reviewed now: the same preview is empty, and accepting again is refused.
    assert team.coder.post("/projects/study/bulk/preview", json=request).json()["items"] == []
    assert (
        team.coder.post("/projects/study/bulk/accept", json={**request, "suggestion_ids": ids}).status_code
        == 400
    )


def test_blind_coding_until_the_owner_reveals(team: Team) -> None:
    view = next_segment(team.coder)
    body = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    assert decide(team.coder, body).is_success
    assert [c["coder"] for c in codings(team.owner)] == ["cyrus"]  # owners see everything
    assert codings(team.viewer) == []
    assert next_segment(team.viewer, status="all")["codings"] == []
    assert team.coder.post("/projects/study/visibility", json={"revealed": True}).status_code == 403
    assert team.owner.post("/projects/study/visibility", json={"revealed": True}).json()["revealed"] is True
    assert [c["coder"] for c in codings(team.viewer)] == ["cyrus"]


def test_codings_export_as_csv(team: Team) -> None:
    view = next_segment(team.coder, status="all", source=None)
    body = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    assert decide(team.coder, body).is_success
    response = team.coder.get("/projects/study/codings.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert [(r["coder"], r["source"]) for r in rows] == [("cyrus", view["source_name"])]
    assert rows[0]["text"] and rows[0]["code"] == deductive(view)[0]["code_name"]


def test_persian_segments_are_marked_right_to_left(team: Team) -> None:
    sources = {s["name"]: s["id"] for s in team.coder.get("/projects/study/sources").json()}
    view = next_segment(team.coder, source=sources["fa.txt"])
    assert view["direction"] == "rtl" and view["language"] == "fa"
    assert next_segment(team.coder, source=sources["en.txt"])["direction"] == "ltr"


def test_every_project_route_refuses_strangers(team: Team) -> None:
    """Every route of the OpenAPI spec with a project in its path: 401 without credentials, and for a user
    who is not a member the same 404 as for a project that does not exist."""
    spec = httpx.get(f"{team.base_url}/openapi.json").json()
    routes = [
        (method.upper(), re.sub(r"\{(\w+)\}", lambda m: "study" if m[1] == "project" else "x", path))
        for path, methods in spec["paths"].items()
        if "{project}" in path
        for method in methods
    ]
    assert len(routes) >= 25  # chunking, retrieval, suggestion and adjudication routes
    for method, path in routes:
        assert team.anonymous.request(method, path, json={}).status_code == 401, path
        refused = team.outsider.request(method, path, json={})
        assert refused.status_code == 404, path
        assert refused.json() == {"detail": "no project named 'study' that you are a member of"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/projects/study/decisions", {"action": "skip", "segment_id": "x", "version": 0}),
        ("/projects/study/undo", None),
        ("/projects/study/merge", {"code_id": "a", "merged_code_id": "b"}),
        ("/projects/study/bulk/preview", {"code_id": "a", "min_confidence": 0.5}),
        ("/projects/study/suggest", {}),
    ],
)
def test_a_viewer_cannot_change_anything(team: Team, path: str, body: Json | None) -> None:
    response = team.viewer.post(path, json=body)
    assert response.status_code == 403, response.text
    assert "viewer" in response.json()["detail"]


def test_a_member_never_reaches_another_projects_data(team: Team) -> None:
    # The outsider owns "elsewhere"; cyrus codes in "study". Ids of one project are unknown in the other.
    view = next_segment(team.coder)
    segment_in_study = view["segment_id"]
    assert team.outsider.get(f"/projects/elsewhere/review/{segment_in_study}").status_code == 404
    body = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    assert team.outsider.post("/projects/elsewhere/decisions", json=body).status_code == 404
    assert team.outsider.get("/projects/elsewhere/codings").json() == []


def test_session_cookie_requests_need_the_csrf_header(team: Team) -> None:
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        failed = browser.post("/login", data={"username": "cyrus", "password": "wrong-password"})
        assert failed.status_code == 303 and "failed" in failed.headers["location"]
    # cyrus has no password yet: set one through the store, then log in like the page does.
    from groundcode.app import open_groundcode

    groundcode = open_groundcode(team.settings)
    groundcode.accounts.set_password("cyrus", "correct horse")
    groundcode.close()
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        login = browser.post("/login", data={"username": "cyrus", "password": "correct horse"})
        assert login.status_code == 303
        assert browser.get("/me").json()["projects"] == {"study": "coder"}
        assert browser.post("/projects/study/undo").status_code == 403
        assert browser.post("/projects/study/undo", headers={"X-Groundcode": "1"}).status_code == 200


def test_decisions_feed_back_into_exemplars_and_the_next_suggestions(team: Team) -> None:
    sources = {s["name"]: s["id"] for s in team.owner.get("/projects/study/sources").json()}
    before = team.owner.get("/projects/study/sources/fa.txt/suggestions").json()
    assert all(s["provenance"]["decided_units"] == 0 for s in before if s["mode"] == "deductive")
    codes = {c["name"]: c["code_id"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    # Code the English interview's budget segments by hand.
    coded = 0
    for view in [next_segment(team.owner, source=sources["en.txt"], status="all")]:
        while view is not None:
            if "budget" in view["text"].lower():
                body = {
                    "action": "code",
                    "segment_id": view["segment_id"],
                    "code_id": codes["Budget constraints"],
                    "start": view["start"],
                    "end": view["end"],
                    "version": view["version"],
                }
                assert decide(team.owner, body).is_success
                coded += 1
            following = view["next_segment_id"]
            view = (
                team.owner.get(f"/projects/study/review/{following}", params={"status": "all"}).json()
                if following
                else None
            )
            if view is not None and view["queue_index"] == 1:
                break
    poll_until(
        lambda: team.owner.get("/work-items").json()["counts"].get("learn", {}),
        lambda counts: counts.get("done", 0) >= 2 and not counts.get("pending") and not counts.get("running"),
        "learn items did not finish",
    )
    similar = team.owner.post(
        "/projects/study/similar-segments", json={"texts": ["The budget is too small."], "k": 3}
    )
    assert similar.json()[0] and codes["Budget constraints"] in similar.json()[0][0]["code_ids"]
    # Suggest again: the owner's coded segments are now the training units of the owner's suggestions.
    assert team.owner.post("/projects/study/suggest", json={"sources": ["fa.txt"]}).status_code == 202
    poll_until(
        lambda: team.owner.get("/projects/study/sources/fa.txt/suggestions").json(),
        lambda found: any(
            s["mode"] == "deductive" and s["provenance"]["decided_units"] == coded for s in found
        ),
        "suggestions did not learn from the decisions",
    )


def test_answered_segments_calibrate_the_coders_suggestions_without_asking(team: Team) -> None:
    """Decide on every deductive suggestion (the first accepted, the others rejected): once the answered
    segments reach a milestone the project is suggested again by itself (the rerank stage), and the coder's
    own suggestions are calibrated on the segments they answered."""
    answered = 0
    view: Json | None = next_segment(team.owner)
    while view is not None:
        candidates = deductive(view)
        if candidates:
            accept = {"action": "accept", "suggestion_ids": [candidates[0]["suggestion_id"]], "version": 0}
            version = decide(team.owner, accept).json()["version"]
            for other in candidates[1:]:
                body = {"action": "reject", "suggestion_id": other["suggestion_id"], "reason": "wrong_code"}
                version = decide(team.owner, {**body, "version": version}).json()["version"]
            answered += 1
        else:
            decide(team.owner, {"action": "skip", "segment_id": view["segment_id"], "version": 0})
        view = next_segment(team.owner, status="todo")
        if view is not None and view["skipped"]:
            break
    assert 4 <= answered <= 8  # up to 8, every further answer is a milestone of its own
    poll_until(
        lambda: team.owner.get("/projects/study/sources/en.txt/suggestions").json(),
        lambda found: (
            found
            and all(
                s["provenance"]["calibrated"] and s["provenance"]["decided_units"] == answered
                for s in found
                if s["mode"] == "deductive"
            )
        ),
        "suggestions were not calibrated on the decisions",
    )


def test_blind_coders_suggestions_learn_only_from_their_own_decisions(team: Team) -> None:
    """Under blind coding the owner's answers shape the owner's suggestions only; the coder keeps the
    shared ones until the owner reveals, after which everyone's answers shape one shared set."""
    view = next_segment(team.owner)
    accept = {"action": "accept", "suggestion_ids": [deductive(view)[0]["suggestion_id"]], "version": 0}
    assert decide(team.owner, accept).is_success

    def learnt_from(client: httpx.Client) -> set[int]:
        found = client.get("/projects/study/sources/en.txt/suggestions").json()
        return {s["provenance"]["decided_units"] for s in found if s["mode"] == "deductive"}

    assert team.owner.post("/projects/study/suggest", json={"sources": ["en.txt"]}).status_code == 202
    poll_until(
        lambda: learnt_from(team.owner), lambda units: units == {1}, "owner's suggestions did not learn"
    )
    assert learnt_from(team.coder) == {0}
    coder_view = next_segment(team.coder)
    owner_ids = {c["suggestion_id"] for c in deductive(next_segment(team.owner, status="all"))}
    assert owner_ids.isdisjoint(c["suggestion_id"] for c in deductive(coder_view))
    stranger = {"action": "accept", "suggestion_ids": [next(iter(owner_ids))], "version": 0}
    assert decide(team.coder, stranger).status_code == 404  # another coder's own suggestion is not named

    assert team.owner.post("/projects/study/visibility", json={"revealed": True}).is_success
    assert team.owner.post("/projects/study/suggest", json={"sources": ["en.txt"]}).status_code == 202
    poll_until(
        lambda: learnt_from(team.coder), lambda units: units == {1}, "revealed suggestions did not pool"
    )
    assert learnt_from(team.owner) == {1}


def test_blind_coders_do_not_see_others_codes_through_exemplars(team: Team) -> None:
    view = next_segment(team.owner)
    budget = deductive(view)[0]
    assert decide(
        team.owner, {"action": "accept", "suggestion_ids": [budget["suggestion_id"]], "version": 0}
    ).is_success
    query = {"texts": [view["text"]], "k": 3}
    owner_hits = poll_until(
        lambda: team.owner.post("/projects/study/similar-segments", json=query).json()[0],
        lambda hits: any(hit["code_ids"] for hit in hits),
        "the accepted coding did not become an exemplar",
    )
    assert budget["code_id"] in owner_hits[0]["code_ids"]
    # A blind coder's similar segments are their own coded ones: the owner's coding is not among them.
    assert team.coder.post("/projects/study/similar-segments", json=query).json() == [[]]
    team.owner.post("/projects/study/visibility", json={"revealed": True})
    revealed = team.coder.post("/projects/study/similar-segments", json=query).json()[0]
    assert any(hit["code_ids"] for hit in revealed)


def test_a_stale_new_code_request_leaves_the_codebook_alone(team: Team) -> None:
    view = next_segment(team.coder, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    assert decide(team.coder, {"action": "skip", "segment_id": view["segment_id"], "version": 0}).is_success
    body = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "name": "Stale",
        "version": 0,
    }
    assert decide(team.coder, body).status_code == 409
    names = {c["name"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    assert "Stale" not in names
    assert decide(team.coder, {**body, "version": 1}).is_success


def test_a_code_cannot_be_merged_into_one_nested_under_it(team: Team) -> None:
    view = next_segment(team.coder, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    codes = {c["name"]: c["code_id"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    child = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "name": "Child code",
        "parent_id": codes["Trust"],
        "version": 0,
    }
    assert decide(team.coder, child).is_success
    codes = {c["name"]: c["code_id"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    refused = team.coder.post(
        "/projects/study/merge", json={"code_id": codes["Child code"], "merged_code_id": codes["Trust"]}
    )
    assert refused.status_code == 400 and "other way round" in refused.json()["detail"]


@pytest.mark.parametrize(
    "target", ["//elsewhere.example", "/\\elsewhere.example", "https://elsewhere.example"]
)
def test_login_never_redirects_off_the_site(team: Team, target: str) -> None:
    from groundcode.app import open_groundcode

    groundcode = open_groundcode(team.settings)
    groundcode.accounts.set_password("cyrus", "correct horse")
    groundcode.close()
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        login = browser.post(
            "/login", data={"username": "cyrus", "password": "correct horse", "next": target}
        )
    assert login.headers["location"] == "/review"


def test_a_project_always_keeps_an_owner(team: Team) -> None:
    demoted = team.owner.put("/projects/study/members/olga", json={"role": "coder"})
    assert demoted.status_code == 400 and "only owner" in demoted.json()["detail"]
    assert team.owner.put("/projects/study/members/cyrus", json={"role": "owner"}).is_success
    assert team.owner.put("/projects/study/members/olga", json={"role": "coder"}).is_success
