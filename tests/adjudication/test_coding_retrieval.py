"""Coded segments retrieved by code (with its sub-codes), coder, source and day, over real HTTP and as
CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from groundcode.domain import Code
from groundcode.state import codes_under
from tests.adjudication.conftest import Team

Json = dict[str, Any]


def code_segment(client: httpx.Client, code_id: str, source: str, index: int) -> None:
    """Code the ``index``-th segment of ``source`` (in source order) by hand."""
    view: Json = client.get("/projects/study/review", params={"source": source, "status": "all"}).json()
    for _ in range(index):
        view = client.get(f"/projects/study/review/{view['next_segment_id']}").json()
    body = {
        "action": "code",
        "segment_id": view["segment_id"],
        "code_id": code_id,
        "start": view["start"],
        "end": view["end"],
        "version": view["version"],
    }
    response = client.post("/projects/study/decisions", json=body)
    assert response.is_success, response.text


def test_codings_are_retrieved_by_code_coder_and_source(team: Team) -> None:
    sources = {s["name"]: s["id"] for s in team.owner.get("/projects/study/sources").json()}
    codes = {c["name"]: c["code_id"] for c in team.owner.get("/projects/study/codebook/counts").json()}
    code_segment(team.owner, codes["Budget constraints"], sources["en.txt"], 0)
    code_segment(team.owner, codes["Trust"], sources["en.txt"], 1)
    code_segment(team.coder, codes["Budget constraints"], sources["fa.txt"], 0)

    def rows(**params: str) -> list[tuple[str, str, str]]:
        response = team.owner.get("/projects/study/codings", params=params)
        assert response.status_code == 200, response.text
        return sorted((row["code"], row["coder"], row["source"]) for row in response.json())

    budget = [("Budget constraints", "cyrus", "fa.txt"), ("Budget constraints", "olga", "en.txt")]
    assert rows(code="budget CONSTRAINTS") == budget  # a name, as the researcher types it
    assert rows(code=codes["Budget constraints"]) == budget  # or an id
    assert rows(code="Budget constraints", coder="cyrus") == budget[:1]
    assert rows(source="en.txt") == [budget[1], ("Trust", "olga", "en.txt")]
    assert len(rows()) == 3
    csv_text = team.owner.get("/projects/study/codings.csv", params={"code": "Trust"}).text
    assert csv_text.count("\n") == 2 and "Trust" in csv_text  # header and one row

    today = datetime.now(UTC).date()
    assert len(rows(since=str(today))) == 3 and len(rows(until=str(today))) == 3
    assert rows(since=str(today + timedelta(days=1))) == []
    assert rows(until=str(today - timedelta(days=1))) == []
    backwards = {"since": str(today), "until": str(today - timedelta(days=1))}
    assert team.owner.get("/projects/study/codings", params=backwards).status_code == 422

    unknown = team.owner.get("/projects/study/codings", params={"code": "Budgt"})
    assert unknown.status_code == 400 and "no code 'Budgt'" in unknown.json()["detail"]
    assert team.owner.get("/projects/study/codings", params={"coder": "nobody"}).status_code == 400


def test_a_code_takes_its_sub_codes_codings_with_it() -> None:
    tree = [
        Code(id="barriers", name="Barriers"),
        Code(id="budget", name="Budget", parent_id="barriers"),
        Code(id="cuts", name="Cuts", parent_id="budget"),
        Code(id="trust", name="Trust"),
    ]
    assert codes_under(tree, {"barriers"}) == {"barriers", "budget", "cuts"}
    assert codes_under(tree, {"budget", "trust"}) == {"budget", "cuts", "trust"}


def test_a_coder_filter_names_no_account_outside_the_project(team: Team) -> None:
    # otto has an account (owner of another project): to study's members he is as unknown as anyone.
    for name in ("otto", "nobody"):
        answer = team.coder.get("/projects/study/codings", params={"coder": name})
        assert answer.status_code == 400 and "no member of the project is called" in answer.json()["detail"]
