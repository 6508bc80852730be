"""The analysis routes over real HTTP on the coded study: saturation, axial proposals and applying them,
and who may do what."""

from __future__ import annotations

from typing import Any

import httpx

from tests.adjudication.conftest import Team
from tests.analysis.study import CODES, NEW_CODES, SATURATION

Json = Any
ROUTES = ["/saturation", "/saturation.png", "/axial/proposal"]


def get(client: httpx.Client, path: str, **params: Any) -> Json:
    response = client.get(f"/projects/study{path}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_saturation_curve_follows_the_codings_in_force(team: Team) -> None:
    report = get(team.owner, "/saturation")
    accepted = report["accepted"]
    assert [p["new"] for p in accepted["points"]] == NEW_CODES
    assert accepted["points"][-1]["cumulative"] == len(CODES)
    assert accepted["points"][0]["source"] == "interview_01.txt"
    assert (accepted["saturation"], accepted["saturation_source"]) == (SATURATION, "interview_11.txt")
    assert accepted["confirmed_by"] == 4 and accepted["added_after"] == 0
    assert report["rule"] == {"window": 3, "max_new": 0} and "3 consecutive" in report["rule_text"]
    suggested = report["suggested"]
    assert len(suggested["points"]) == 15 and 0 < suggested["points"][-1]["cumulative"] <= len(CODES)
    # A stricter rule moves the point, and nothing counts below an impossible confidence.
    assert get(team.owner, "/saturation", window=5)["accepted"]["saturation"] is None
    assert get(team.owner, "/saturation", min_confidence=1.0)["suggested"]["points"][-1]["cumulative"] == 0


def test_blind_coding_applies_to_the_curve(team: Team) -> None:
    assert get(team.coder, "/saturation")["accepted"]["saturation"] == SATURATION  # the coder coded it all
    unseen = get(team.viewer, "/saturation")["accepted"]  # the viewer has no decisions of their own
    assert not any(p["coded"] for p in unseen["points"]) and unseen["saturation"] is None


def test_the_saturation_plot_is_a_png(team: Team) -> None:
    response = team.viewer.get("/projects/study/saturation.png", params={"order": "imported"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")


def test_outsiders_get_404_and_anonymous_401(team: Team) -> None:
    for route in ROUTES:
        assert team.outsider.get(f"/projects/study{route}").status_code == 404
        assert team.anonymous.get(f"/projects/study{route}").status_code == 401
    body = {"codebook_version": 1, "groups": [{"name": "x", "code_ids": ["y"]}]}
    assert team.outsider.post("/projects/study/axial/apply", json=body).status_code == 404


def test_a_proposal_applied_with_a_rename_and_a_move_nests_the_codebook(team: Team) -> None:
    proposal = get(team.coder, "/axial/proposal", groups=5)
    assert proposal["codes"] == len(CODES) and proposal["chosen_groups"] == 5
    assert "medoid" in proposal["naming"] and proposal["options"]["linkage"] == "ward"
    both = team.coder.get("/projects/study/axial/proposal", params={"groups": 2, "distance_threshold": 0.5})
    assert both.status_code == 422 and "not both" in both.text
    first, second = proposal["groups"][0], proposal["groups"][1]
    moved = second["code_ids"][-1]
    groups = [
        {"name": "Barriers", "definition": "What holds it back.", "code_ids": [*first["code_ids"], moved]},
        {"name": second["name"], "code_ids": second["code_ids"][:-1] or [second["medoid_code_id"]]},
    ]
    body = {"codebook_version": proposal["codebook_version"], "groups": groups}

    assert team.viewer.post("/projects/study/axial/apply", json=body).status_code == 403
    applied = team.coder.post("/projects/study/axial/apply", json=body)
    assert applied.status_code == 200, applied.text
    codebook = applied.json()
    assert codebook["version"] == proposal["codebook_version"] + 1
    codes = {code["id"]: code for code in codebook["codes"]}
    [barriers] = [code for code in codes.values() if code["name"] == "Barriers"]
    assert barriers["parent_id"] is None and barriers["definition"] == "What holds it back."
    assert {codes[code_id]["parent_id"] for code_id in [*first["code_ids"], moved]} == {barriers["id"]}
    counts = get(team.coder, "/codebook/counts")  # the adjudication service reads the new version
    assert len(counts) == len(CODES) + 1 and any(c["parent_id"] == barriers["id"] for c in counts)

    stale = team.coder.post("/projects/study/axial/apply", json=body)
    assert stale.status_code == 409
    unknown = {"codebook_version": codebook["version"], "groups": [{"name": "X", "code_ids": ["nope"]}]}
    refused = team.coder.post("/projects/study/axial/apply", json=unknown)
    assert refused.status_code == 400 and "nope" in refused.json()["detail"]
