"""Access control and credentials under attack (issue 14: items 3, 4, 5, 7, 9 and the access parts of 10),
over real HTTP against the served app, with the CLI and the real SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.cli import app as cli
from groundcode.domain import Code, Codebook, Role, Segment, SegmentUnit, Source, content_hash, utcnow
from groundcode.interchange.refiqda import read_project, walk_codes
from groundcode.settings import Settings
from services.retrieval.search import CodeCandidate
from services.suggestion.models import Mode
from services.suggestion.stage import build_requests
from tests.adjudication.conftest import Team, prepared_study, team
from tests.adjudication.test_adjudication_api import decide, deductive, next_segment
from tests.live_server import api_token, poll_until

__all__ = ["prepared_study", "team"]  # fixtures used here

Json = dict[str, Any]
PASSWORD = "correct horse"


@pytest.fixture
def bea(team: Team) -> Iterator[httpx.Client]:
    """A second coder of the study, beside cyrus."""
    headers = api_token(team.settings, "bea", projects=["study"], role=Role.CODER)
    with httpx.Client(base_url=team.base_url, timeout=60, headers=headers) as client:
        yield client


def cli_run(settings: Settings, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"GROUNDCODE_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0, result.output
    return result.output


def set_password(settings: Settings, username: str, password: str = PASSWORD) -> None:
    groundcode = open_groundcode(settings)
    try:
        groundcode.accounts.set_password(username, password)
    finally:
        groundcode.close()


def log_in(browser: httpx.Client, username: str, password: str = PASSWORD, **headers: str) -> httpx.Response:
    return browser.post("/login", data={"username": username, "password": password}, headers=headers)


def accept_first(client: httpx.Client) -> tuple[Json, Json]:
    """Accept the first deductive suggestion of the client's next segment: ``(view, candidate)``."""
    view = next_segment(client)
    candidate = deductive(view)[0]
    body = {"action": "accept", "suggestion_ids": [candidate["suggestion_id"]], "version": view["version"]}
    assert decide(client, body).is_success
    return view, candidate


def code_names(client: httpx.Client) -> dict[str, Json]:
    return {c["name"]: c for c in client.get("/projects/study/codebook/counts").json()}


# Item 3: blind coding applies to every filter


def test_a_blind_coders_code_filter_matches_only_their_own_codings(team: Team, bea: httpx.Client) -> None:
    view, budget = accept_first(team.coder)
    query = {"texts": [view["text"]], "k": 5, "filters": {"code_id": budget["code_id"]}}
    poll_until(
        lambda: team.owner.post("/projects/study/similar-segments", json=query).json()[0],
        bool,
        "cyrus's coding did not become an exemplar",
    )
    # bea never gave that code: cyrus's segment must not come back for her (nor for a viewer).
    assert bea.post("/projects/study/similar-segments", json=query).json() == [[]]
    mine = team.coder.post("/projects/study/similar-segments", json=query).json()[0]
    assert [(hit["segment_id"], hit["code_ids"]) for hit in mine] == [
        (view["segment_id"], [budget["code_id"]])
    ]
    # The three batch searches only read: viewers may call them (README, Security), blind coding applied.
    searches = {
        "/projects/study/candidate-codes": {"texts": [view["text"]]},
        "/projects/study/similar-segments": query,
        "/projects/study/search": {"queries": ["budget"]},
    }
    answers = {path: team.viewer.post(path, json=body) for path, body in searches.items()}
    assert all(answer.status_code == 200 for answer in answers.values())
    assert answers["/projects/study/similar-segments"].json() == [[]]


# Item 4: a coder's new code reaches the others only once approved


def test_a_blind_coders_new_code_is_hidden_from_the_others_until_an_owner_approves_it(
    team: Team, bea: httpx.Client
) -> None:
    view = next_segment(team.coder, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    body = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "name": "Hardware purchases",
        "definition": "Buying servers and devices.",
        "version": view["version"],
    }
    created = decide(team.coder, body)
    assert created.is_success, created.text
    code_id = created.json()["decisions"][0]["code_id"]
    for other in (bea, team.viewer):
        assert "Hardware purchases" not in code_names(other)
    assert code_names(team.coder)["Hardware purchases"]["approved"] is False  # its creator sees it
    assert "Hardware purchases" in code_names(team.owner)
    exported = read_project(bea.get("/projects/study/export.qdpx").content)
    assert "Hardware purchases" not in {code.name for code, _ in walk_codes(exported.codes)}
    probe = {"texts": ["We had to buy new servers and devices."], "k": 10}
    poll_until(
        lambda: team.owner.post("/projects/study/candidate-codes", json=probe).json()[0],
        lambda hits: code_id in {hit["code_id"] for hit in hits},
        "the new code was not indexed",
    )
    hits = bea.post("/projects/study/candidate-codes", json=probe).json()[0]
    assert hits and code_id not in {hit["code_id"] for hit in hits}
    # Coding with it by its (guessable) id is answered as for a code that does not exist.
    by_hand = {
        "action": "code",
        "segment_id": view["segment_id"],
        "code_id": code_id,
        "start": view["start"],
        "end": view["end"],
        "version": 0,
    }
    refused = decide(bea, by_hand)
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"the codebook has no code with id {code_id!r}"

    assert team.coder.post(f"/projects/study/codes/{code_id}/approve").status_code == 403
    approved = team.owner.post(f"/projects/study/codes/{code_id}/approve")
    assert approved.status_code == 200 and approved.json()["approved"] is True
    assert code_names(bea)["Hardware purchases"]["approved"] is True
    assert decide(bea, by_hand).is_success


def test_revealing_approves_every_coders_new_code(team: Team, bea: httpx.Client) -> None:
    view = next_segment(team.coder, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    body = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "name": "Servers",
        "version": 0,
    }
    assert decide(team.coder, body).is_success
    assert "Servers" not in code_names(bea)
    # bea may create a code of the same name: cyrus's unapproved one is not confirmed to her.
    assert decide(bea, body).is_success
    assert team.owner.post("/projects/study/visibility", json={"revealed": True}).is_success
    counts = bea.get("/projects/study/codebook/counts").json()
    assert [c["approved"] for c in counts if c["name"] == "Servers"] == [True, True]  # the owner merges them


def test_suggestions_offer_a_coders_new_code_only_once_approved() -> None:
    text = "We bought new servers."
    source = Source(project_id="p", name="a.txt", format="txt", text=text, content_hash=content_hash(text))
    segment = Segment(
        id="s1", source_id=source.id, position=0, start=0, end=len(text), text=text, unit=SegmentUnit.TURN
    )
    pending = Code(name="Hardware", created_by="cyrus", approved=False)
    shared = Code(name="Budget")
    codebook = Codebook(project_id="p", name="open codes", codes=[shared, pending])
    hits = [
        CodeCandidate(
            code_id=code.id, name=code.name, codebook="open codes", codebook_version=1, score=0.9, text=""
        )
        for code in (pending, shared)
    ]
    (request,) = build_requests(source, [segment], [Mode.DEDUCTIVE], codebook, [hits], [[]])
    assert [candidate.name for candidate in request.candidates] == ["Budget"]
    approved = codebook.model_copy(update={"codes": [shared, pending.model_copy(update={"approved": True})]})
    (request,) = build_requests(source, [segment], [Mode.DEDUCTIVE], approved, [hits], [[]])
    assert [candidate.name for candidate in request.candidates] == ["Hardware", "Budget"]


# Item 5: an import never enlists existing accounts by itself


def test_an_import_binds_its_users_to_existing_accounts_only_when_the_owner_maps_them(team: Team) -> None:
    accept_first(team.coder)
    archive = team.owner.get("/projects/study/export.qdpx").content
    (cyrus,) = [user for user in read_project(archive).users if user.name == "cyrus"]
    upload = {"file": ("study.qdpx", archive, "application/zip")}

    imported = team.outsider.post("/projects/elsewhere/import-qdpx", files=upload)
    assert imported.status_code == 200, imported.text
    assert imported.json()["accounts_added"] == ["cyrus-2"] and imported.json()["codings_added"] == 1
    members = {m["user"]["username"] for m in team.outsider.get("/projects/elsewhere/members").json()}
    assert members == {"otto", "cyrus-2"}
    coders = {d["coder_id"] for d in team.outsider.get("/projects/elsewhere/decisions").json()}
    study_members = {
        m["user"]["username"]: m["user"]["id"] for m in team.owner.get("/projects/study/members").json()
    }
    assert study_members["cyrus"] not in coders
    again = team.outsider.post("/projects/elsewhere/import-qdpx", files=upload).json()
    assert again["accounts_added"] == [] and again["users"] == ["cyrus-2"]  # the import's own account

    assert team.outsider.post("/projects", json={"name": "mapped"}).status_code == 201
    mapped = team.outsider.post(
        "/projects/mapped/import-qdpx", files=upload, data={"map_user": f"{cyrus.guid}=otto"}
    )
    assert mapped.status_code == 200, mapped.text
    assert mapped.json()["accounts_added"] == [] and mapped.json()["users"] == ["otto"]
    unknown = team.outsider.post(
        "/projects/mapped/import-qdpx", files=upload, data={"map_user": f"{cyrus.guid}=nobody"}
    )
    assert unknown.status_code == 400 and "no such user" in unknown.json()["detail"]


# Item 7: throttled logins, expiring and revocable tokens


def test_failed_logins_are_throttled_per_account(team: Team) -> None:
    set_password(team.settings, "cyrus")
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        for _ in range(5):
            assert log_in(browser, "cyrus", "wrong password").status_code == 303
        refused = log_in(browser, "cyrus")  # even the right password waits
        assert refused.status_code == 429
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert "too many failed logins" in refused.json()["detail"]


def test_failed_logins_are_throttled_per_address(team: Team) -> None:
    set_password(team.settings, "vera")
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        for number in range(5):
            assert log_in(browser, f"guess{number}", "wrong password").status_code == 303
        assert log_in(browser, "vera").status_code == 429


def test_each_further_failed_login_doubles_the_wait(tmp_path: Path) -> None:
    groundcode = open_groundcode(Settings(data_dir=tmp_path / "data"))
    accounts, keys = groundcode.accounts, ["user:ana"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        for _ in range(4):
            accounts.record_login_failure(keys, now=start)
        assert accounts.login_wait(keys, now=start) == timedelta(0)
        accounts.record_login_failure(keys, now=start)
        assert accounts.login_wait(keys, now=start) == timedelta(minutes=1)
        later = start + timedelta(minutes=1)
        accounts.record_login_failure(keys, now=later)
        assert accounts.login_wait(keys, now=later) == timedelta(minutes=2)
        quiet = later + timedelta(minutes=30)  # a quiet window starts the count again
        accounts.record_login_failure(keys, now=quiet)
        assert accounts.login_wait(keys, now=quiet) == timedelta(0)
    finally:
        groundcode.close()


def test_tokens_expire_and_can_be_listed_and_revoked(team: Team) -> None:
    token = cli_run(team.settings, "token", "create", "cyrus", "--label", "laptop", "--expires-days", "2")
    token = token.strip().splitlines()[-1]
    assert "cyrus" in cli_run(team.settings, "token", "list", "cyrus")
    groundcode = open_groundcode(team.settings)
    try:
        (laptop,) = [t for t in groundcode.accounts.list_tokens("cyrus") if t.label == "laptop"]
        assert laptop.expires_at is not None
        assert timedelta(days=2) - (laptop.expires_at - laptop.created_at) < timedelta(seconds=1)
        assert groundcode.accounts.user_for_token(token, now=utcnow() + timedelta(days=3)) is None
        (default,) = [t for t in groundcode.accounts.list_tokens("vera")]  # the fixture's token: 90 days
        assert default.expires_at is not None and default.expires_at - default.created_at == timedelta(
            days=90
        )
    finally:
        groundcode.close()
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{team.base_url}/me", headers=bearer).status_code == 200
    cli_run(team.settings, "token", "revoke", laptop.id)
    assert httpx.get(f"{team.base_url}/me", headers=bearer).status_code == 401


def test_a_password_change_revokes_every_session_and_token(team: Team) -> None:
    set_password(team.settings, "cyrus")
    token = cli_run(team.settings, "token", "create", "cyrus").strip().splitlines()[-1]
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        assert log_in(browser, "cyrus").status_code == 303
        assert browser.get("/me").status_code == 200 and browser.get("/me", headers=bearer).status_code == 200
        output = cli_run(team.settings, "user", "password", "cyrus", "--password", "another horse")
        assert "2 sessions and tokens revoked" in output
        assert browser.get("/me").status_code == 401 and browser.get("/me", headers=bearer).status_code == 401


# Item 9: operations routes for administrators


def test_operations_routes_are_for_instance_administrators(team: Team) -> None:
    routes = [("GET", "/work-items"), ("POST", "/work-items/retry"), ("GET", "/metrics")]
    for method, path in routes:
        refused = team.coder.request(method, path)
        assert refused.status_code == 403 and "administrators" in refused.text
        assert team.owner.request(method, path).status_code == 200  # olga is an administrator
    cli_run(team.settings, "user", "admin", "cyrus")
    assert all(team.coder.request(method, path).status_code == 200 for method, path in routes)
    cli_run(team.settings, "user", "admin", "cyrus", "--revoke")
    assert team.coder.get("/work-items").status_code == 403


# Item 10: cookies, headers, logout, error messages


def test_every_answer_says_nosniff(team: Team) -> None:
    answers = [
        team.anonymous.get("/health"),
        team.anonymous.get("/login"),
        team.anonymous.get("/projects/study/codings"),  # 401
        team.coder.get("/projects/study/codebook/counts"),
        team.coder.get("/projects/nowhere/codings"),  # 404
        team.coder.get("/static/adjudication/common.js"),
    ]
    assert [answer.headers.get("x-content-type-options") for answer in answers] == ["nosniff"] * len(answers)


def test_the_session_cookie_is_secure_when_served_over_https(team: Team) -> None:
    set_password(team.settings, "cyrus")
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        plain = log_in(browser, "cyrus").headers["set-cookie"]
        https = log_in(browser, "cyrus", **{"X-Forwarded-Proto": "https"}).headers["set-cookie"]
    assert not re.search(r";\s*secure", plain, re.IGNORECASE)
    assert re.search(r";\s*secure", https, re.IGNORECASE)


def test_logout_needs_the_csrf_header(team: Team) -> None:
    set_password(team.settings, "cyrus")
    with httpx.Client(base_url=team.base_url, timeout=30) as browser:
        assert log_in(browser, "cyrus").status_code == 303
        assert browser.post("/logout").status_code == 403
        assert browser.get("/me").status_code == 200  # still logged in
        assert browser.post("/logout", headers={"X-Groundcode": "1"}).status_code == 303
        assert browser.get("/me").status_code == 401


def test_another_projects_suggestion_id_is_answered_like_an_unknown_one(team: Team) -> None:
    view = next_segment(team.owner)
    suggestion_id = deductive(view)[0]["suggestion_id"]
    body = {"action": "reject", "suggestion_id": suggestion_id, "reason": "other", "version": 0}
    foreign = team.outsider.post("/projects/elsewhere/decisions", json=body)
    unknown = team.outsider.post("/projects/elsewhere/decisions", json={**body, "suggestion_id": "x"})
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json()["detail"] == f"no suggestion with id {suggestion_id!r}"
    assert view["segment_id"] not in foreign.text


# Item 10: look-alike code names, also for codes created while reviewing


def test_a_new_code_that_only_looks_different_is_refused(team: Team) -> None:
    view = next_segment(team.owner, status="all")
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    body = {
        "action": "create_code",
        "suggestion_id": proposal["suggestion_id"],
        "definition": "",
        "version": 0,
    }

    for lookalike in ("Tru\u200bst", "\u202etrust", "TRUST", "Trust\x07"):
        refused = decide(team.owner, {**body, "name": lookalike})
        assert refused.status_code == 400, lookalike
        assert "already has a code 'Trust'" in refused.text or "control character" in refused.text
    assert "Trust" in code_names(team.owner) and len(code_names(team.owner)) == 4


def test_an_unknown_project_over_http_names_no_other_project(team: Team) -> None:
    # The command line lists the projects for a mistyped name; a member over HTTP must not learn them.
    answer = team.coder.get("/projects/nowhere/codings")
    assert answer.status_code == 404 and "study" not in answer.text and "elsewhere" not in answer.text
