"""The attacks of issue 14's hostile testing that were already refused, held here so they stay refused:
REFI-QDA external entities and billion laughs, zip slip and symlinks in archives, script in transcript text
and code names on the review and analysis pages, one project's ids used through another project's routes,
and cross-site request forgery with the session cookie.

Every hostile REFI-QDA case is also checked at the parser (``tests/interchange/test_refiqda_hostile.py``,
whose payloads are used here): this suite sends them through the real upload route into a real SQLite
database and checks that nothing at all was stored. The study, the app and its clients are the adjudication
tests' (``tests/adjudication/conftest.py``); the browser is Debian's Chromium (``tests/browser.py``).
"""

from __future__ import annotations

import io
import json
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.cli import app as cli
from groundcode.domain import Code, Role
from groundcode.interchange.refiqda import read_project, write_project
from groundcode.server import create_app
from groundcode.settings import Settings
from services.adjudication import pages
from tests.adjudication.conftest import Team, prepared_study, team  # noqa: F401 (fixtures used here)
from tests.adjudication.test_adjudication_api import deductive, next_segment
from tests.browser import launch_chromium
from tests.interchange.support import SOURCE, members, persian_project, tampered, zip_of
from tests.interchange.test_project_db_roundtrip import table_counts
from tests.interchange.test_refiqda_hostile import EXTERNAL_DTD, LAUGHS, XXE
from tests.live_server import api_token, serve_in_thread

Json = dict[str, Any]
PASSWORD = "correct horse battery"
expect.set_options(timeout=15_000)


def symlink_member(name: str, target: str) -> zipfile.ZipInfo:
    """A zip entry that unzip would create as a symbolic link to ``target``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the mode below counts
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def with_symlink(archive: bytes, name: str, target: str) -> bytes:
    """The archive with member ``name`` replaced by a symbolic link to ``target``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as rebuilt:
        for member, data in members(archive).items():
            if member == name:
                rebuilt.writestr(symlink_member(name, target), target)
            else:
                rebuilt.writestr(member, data)
    return buffer.getvalue()


# --- REFI-QDA files through the upload route ----------------------------------------------------


def hostile_uploads() -> dict[str, bytes]:
    project = write_project(persian_project())
    return {
        "xxe.qde": XXE,
        "billion-laughs.qde": LAUGHS,
        "external-dtd.qde": EXTERNAL_DTD,
        "xxe-in-archive.qdpx": zip_of({"project.qde": XXE}),
        "zip-slip.qdpx": zip_of({**members(project), "../../evil.txt": b"x"}),
        "zip-slip-absolute.qdpx": zip_of({**members(project), "/tmp/evil.txt": b"x"}),
        "zip-slip-windows.qdpx": zip_of({**members(project), "..\\..\\evil.txt": b"x"}),
        "zip-slip-in-the-project.qdpx": tampered(
            project, f"internal://{SOURCE}.txt", "internal://../../../etc/passwd"
        ),
    }


def test_hostile_refi_qda_uploads_are_refused_and_store_nothing(team: Team) -> None:  # noqa: F811
    before = table_counts(team.settings)
    for name, data in hostile_uploads().items():
        answer = team.owner.post("/projects/study/import-qdpx", files={"file": (name, data, "")})
        assert answer.status_code == 400, (name, answer.text)
        assert f"{name}: nothing imported" in answer.json()["detail"], name
        assert "root:" not in answer.text  # no file of the server's in the answer
    assert table_counts(team.settings) == before


def test_a_symlink_in_an_archive_is_never_followed(team: Team, tmp_path: Path) -> None:  # noqa: F811
    """A source text packed as a symbolic link to a file of the server: the archive is read in memory and
    never unpacked to disk, so the link is at most its own target's name, never that file's content."""
    secret = tmp_path / "secret.txt"
    secret.write_text("the server's secret", encoding="utf-8")
    archive = with_symlink(write_project(persian_project()), f"sources/{SOURCE}.txt", str(secret))
    try:
        texts = [source.text or "" for source in read_project(archive).sources]
    except Exception:  # refusing the archive is as good
        texts = []
    assert all("secret" not in text or text == str(secret) for text in texts)
    before = table_counts(team.settings)
    answer = team.owner.post("/projects/study/import-qdpx", files={"file": ("link.qdpx", archive, "")})
    assert "the server's secret" not in answer.text
    if answer.is_success:
        sources = team.owner.get("/projects/study/sources").json()
        for source in sources:
            segments = team.owner.get(f"/projects/study/sources/{source['name']}/segments").json()
            assert all("the server's secret" not in segment["text"] for segment in segments)
    else:
        assert table_counts(team.settings) == before


# --- Cross-site request forgery -----------------------------------------------------------------


def changing_routes(base_url: str) -> list[tuple[str, str]]:
    """Every state-changing route of the API, with the project "study" and made-up ids in its path."""
    spec = httpx.get(f"{base_url}/openapi.json").json()
    return [
        (method.upper(), re.sub(r"\{(\w+)\}", lambda m: "study" if m[1] == "project" else "x", path))
        for path, methods in spec["paths"].items()
        for method in methods
        if method.upper() not in {"GET", "HEAD", "OPTIONS"}
    ]


@pytest.fixture
def browser_session(team: Team) -> Iterator[httpx.Client]:  # noqa: F811
    """cyrus (a coder of "study") logged in through the login form: a session cookie, as a browser has."""
    groundcode = open_groundcode(team.settings)
    try:
        groundcode.accounts.set_password("cyrus", PASSWORD)
    finally:
        groundcode.close()
    with httpx.Client(base_url=team.base_url, timeout=60) as client:
        login = client.post("/login", data={"username": "cyrus", "password": PASSWORD})
        assert login.status_code == 303 and client.cookies, login.text
        yield client


def test_no_route_changes_anything_on_the_session_cookie_alone(
    team: Team,  # noqa: F811
    browser_session: httpx.Client,
) -> None:
    routes = changing_routes(team.base_url)
    assert len(routes) >= 15
    before = table_counts(team.settings)
    for method, path in routes:
        refused = browser_session.request(method, path, json={})
        assert refused.status_code == 403, (method, path, refused.text)
        assert "X-Groundcode" in refused.text, (method, path)
    assert table_counts(team.settings) == before
    # The same cookie with the header a page of this site sends is accepted.
    view = next_segment(browser_session)
    body = {"action": "skip", "segment_id": view["segment_id"], "version": view["version"]}
    headers = {"X-Groundcode": "1"}
    assert browser_session.post("/projects/study/decisions", json=body, headers=headers).is_success


def test_a_form_posted_from_another_site_is_refused(team: Team, browser_session: httpx.Client) -> None:  # noqa: F811
    """What a hostile page can send without script: a form post, with the cookie and its own origin."""
    forged = browser_session.post(
        "/projects/study/undo",
        data={"a": "b"},
        headers={"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert forged.status_code == 403
    assert team.owner.get("/projects/study/decisions").json() == []


# --- One project's ids through another project's routes -------------------------------------------


def test_ids_of_one_project_are_unknown_in_another_of_the_same_member(team: Team) -> None:  # noqa: F811
    """olga owns "study" and "other": membership of "other" lets no id of "study" through its routes."""
    api_token(team.settings, "olga", projects=["other"], role=Role.OWNER)
    groundcode = open_groundcode(team.settings)
    try:  # "other" has a codebook of its own, so a foreign code id is not merely "no codebook yet"
        other = groundcode.repository.get_project("other")
        groundcode.repository.save_codebook(other.id, "other", [Code(name="Budget"), Code(name="Trust")])
    finally:
        groundcode.close()
    olga = team.owner
    view = next_segment(olga, status="all")
    segment, suggestion = view["segment_id"], deductive(view)[0]
    codes = {c["name"]: c["code_id"] for c in olga.get("/projects/study/codebook/counts").json()}
    code_a, code_b = list(codes.values())[:2]
    before = table_counts(team.settings)
    reads = [
        f"/projects/other/review/{segment}",
        f"/projects/other/segments/{segment}/candidate-codes",
        f"/projects/other/segments/{segment}/similar",
        f"/projects/other/sources/{view['source_name']}",
        f"/projects/other/sources/{view['source_name']}/segments",
        f"/projects/other/sources/{view['source_name']}/suggestions",
    ]
    for path in reads:
        assert olga.get(path).status_code == 404, path
    writes: list[tuple[str, Json]] = [
        (
            "decisions",
            {"action": "accept", "suggestion_ids": [suggestion["suggestion_id"]], "version": 0},
        ),
        ("decisions", {"action": "skip", "segment_id": segment, "version": 0}),
        (
            "decisions",
            {
                "action": "code",
                "segment_id": segment,
                "code_id": code_a,
                "start": view["start"],
                "end": view["end"],
                "version": 0,
            },
        ),
        ("merge", {"code_id": code_a, "merged_code_id": code_b}),
        ("bulk/preview", {"code_id": code_a, "min_confidence": 0.0}),
        (f"codes/{code_a}/approve", {}),
        (
            "bulk/accept",
            {"code_id": code_a, "min_confidence": 0.0, "suggestion_ids": [suggestion["suggestion_id"]]},
        ),
    ]
    for route, body in writes:
        answer = olga.post(f"/projects/other/{route}", json=body)
        assert answer.status_code in {400, 404}, (route, body, answer.status_code, answer.text)
        if "code_id" not in body and "codes/" not in route:  # a foreign code: "no such code" (400) will do
            assert answer.status_code == 404, (route, body, answer.text)
        names = [suggestion["code_name"], view["text"], view["source_name"]]
        assert not any(name in answer.text for name in names), answer.text
        if "suggestion_ids" in body:
            assert segment not in answer.text  # not even which segment the foreign suggestion is on
    assert olga.get("/projects/other/codings").json() == []
    assert olga.get("/projects/other/decisions").json() == []
    assert table_counts(team.settings) == before


# --- Script in transcripts and code names ---------------------------------------------------------

SCRIPT = "<script>document.title='pwned'</script>"
IMAGE = "<img src=x onerror=\"document.title='pwned'\">"
HOSTILE_TRANSCRIPT = (
    "Interviewer: What holds the services back?\n"
    f"P1: The budget {SCRIPT} was cut again, so the servers {IMAGE} were never bought.\n\n"
    "Interviewer: And the citizens?\n"
    "P1: Nobody trusts the new portal after the data leak.\n"
)
HOSTILE_CODEBOOK = [
    {"name": f"Budget {SCRIPT}", "definition": f"Money that is cut. {IMAGE}"},
    {"name": f"Trust {IMAGE}", "definition": "Confidence of citizens in institutions."},
]
SOURCE_NAME = "<svg onload=alert(1)>interview.txt"
INJECTED = "script:not([src]), img[src='x'], svg[onload], [onerror]"


@pytest.fixture(scope="module")
def hostile_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with project "study" whose transcript and code names carry markup."""
    work = tmp_path_factory.mktemp("hostile")
    (work / SOURCE_NAME).write_text(HOSTILE_TRANSCRIPT, encoding="utf-8")
    (work / "codebook.json").write_text(json.dumps(HOSTILE_CODEBOOK), encoding="utf-8")
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(work / SOURCE_NAME),
            "-p",
            "study",
            "--codebook",
            str(work / "codebook.json"),
            "--unit",
            "turn",
        ],
        env={"GROUNDCODE_DATA_DIR": str(work / "data")},
    )
    assert result.exit_code == 0, result.output
    return work / "data"


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


def test_markup_in_transcripts_and_code_names_shows_as_text_on_the_pages(
    hostile_study: Path, chromium: Browser
) -> None:
    settings = Settings(data_dir=hostile_study)
    groundcode = open_groundcode(settings)
    try:
        groundcode.accounts.add_user("cyrus")
        groundcode.accounts.set_password("cyrus", PASSWORD)
    finally:
        groundcode.close()
    headers = api_token(settings, "cyrus", projects=["study"], role=Role.CODER)
    with serve_in_thread(create_app(settings)) as base_url:
        context = chromium.new_context(base_url=base_url)
        page: Page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
        try:
            page.goto("/login?next=%2Freview%3Fproject%3Dstudy")
            page.get_by_label("User name").fill("cyrus")
            page.get_by_label("Password").fill(PASSWORD)
            page.keyboard.press("Enter")
            expect(page.locator("#transcript")).to_contain_text(SCRIPT)
            expect(page.locator("#transcript")).to_contain_text(IMAGE)
            expect(page.locator(".candidate .code-name").first).to_contain_text("<")
            expect(page.locator("#source-name")).to_have_text(SOURCE_NAME)
            assert page.locator(INJECTED).count() == 0
            assert page.title() != "pwned"
            with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:
                view = next_segment(api)
                hostile = next(c for c in deductive(view) if "<" in c["code_name"])
                accept = {"action": "accept", "suggestion_ids": [hostile["suggestion_id"]], "version": 0}
                assert api.post("/projects/study/decisions", json=accept).is_success
            page.goto("/analysis?project=study")
            expect(page.locator("#saturation-table")).to_contain_text(SOURCE_NAME[:-4])
            expect(page.locator("#analysis")).to_contain_text(hostile["code_name"])
            assert page.locator(INJECTED).count() == 0
            assert page.title() != "pwned"
        finally:
            context.close()
    assert errors == []


def test_values_from_the_address_are_escaped_in_the_server_rendered_pages(team: Team) -> None:  # noqa: F811
    listing = team.coder.get("/review", params={"project": SCRIPT})
    assert SCRIPT not in listing.text and "&lt;script&gt;" in listing.text
    assert listing.headers["content-security-policy"] == pages.CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in pages.CONTENT_SECURITY_POLICY  # no inline script, even if some got in
    login = team.anonymous.get("/login", params={"next": f'"><svg onload=alert(1)>{SCRIPT}'})
    assert SCRIPT not in login.text and "<svg" not in login.text


def test_the_pages_scripts_never_parse_data_as_html() -> None:
    """The review and analysis scripts build the page with ``el()`` and ``textContent`` only: no HTML
    parsing sink, no code from strings."""
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
        r"setTimeout\(\s*[\"'`]|createContextualFragment|DOMParser|srcdoc"
    )
    static = Path(pages.__file__).parent / "static"
    scripts = sorted(static.glob("*.js"))
    assert {path.name for path in scripts} >= {"common.js", "review.js", "analysis.js"}
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in scripts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if sinks.search(line)
    ]
    assert found == []
    templates = Path(pages.__file__).parent / "templates"
    assert not [
        path.name for path in templates.glob("*.html") if "|safe" in path.read_text().replace(" ", "")
    ]
