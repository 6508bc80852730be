"""The review page in a real browser (Debian's Chromium driven by Playwright) against the live app: log in
through the form, review with the keyboard, reject and undo, bulk-accept, right-to-left Persian, conflicts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from groundcode.app import open_groundcode
from tests.adjudication.conftest import Team
from tests.browser import launch_chromium
from tests.live_server import api_token

PASSWORD = "correct horse battery"
Json = dict[str, Any]

# Selects characters [start, end) of an element's text, across the text nodes around a highlight.
SELECT_TEXT = """(element, [start, end]) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(), seen = 0; node; seen += node.length, node = walker.nextNode()) {
        if (start >= seen && start <= seen + node.length) range.setStart(node, start - seen);
        if (end >= seen && end <= seen + node.length) range.setEnd(node, end - seen);
    }
    document.getSelection().removeAllRanges();
    document.getSelection().addRange(range);
}"""

expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, team: Team) -> Iterator[Page]:
    """A fresh browser tab at 1280×800; fails the test on any script error in the page."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=team.base_url)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert errors == []


@pytest.fixture
def reviewer(page: Page, team: Team) -> Page:
    """cyrus (a coder) logged in through the form, on the review page of project "study"."""
    groundcode = open_groundcode(team.settings)
    groundcode.accounts.set_password("cyrus", PASSWORD)
    groundcode.close()
    team.coder.headers.update(api_token(team.settings, "cyrus"))  # a new password revoked the old token
    page.goto("/review?project=study")
    expect(page).to_have_url(f"{team.base_url}/login?next=%2Freview%3Fproject%3Dstudy")
    page.get_by_label("User name").fill("cyrus")
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(".candidate").first).to_be_visible()
    return page


def first_view(team: Team, **params: str) -> Json:
    view: Json = team.coder.get("/projects/study/review", params=params).json()
    return view


def codings(team: Team) -> list[Json]:
    rows: list[Json] = team.coder.get("/projects/study/codings").json()
    return rows


def test_a_wrong_password_says_so_and_keeps_the_page_asked_for(page: Page, team: Team) -> None:
    page.goto("/review?project=study")
    page.get_by_label("User name").fill("cyrus")
    page.get_by_label("Password").fill("not the password")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    assert page.locator("input[name=next]").input_value() == "/review?project=study"


def test_review_a_segment_with_the_keyboard_only(reviewer: Page, team: Team) -> None:
    view = first_view(team)
    first = view["candidates"][0]
    expect(reviewer.locator("#position")).to_have_text(f"1 of {view['queue_length']}")
    expect(reviewer.locator("#segment-text")).to_have_text(view["text"])
    expect(reviewer.locator("#codings")).to_contain_text("None yet")  # suggestions are not codings

    reviewer.keyboard.press("1")
    expect(reviewer.locator(".coding .code-chip")).to_have_text([first["code_name"]])
    expect(reviewer.locator(".candidate").first.locator(".verdict")).to_have_text("accepted")
    assert [row["code"] for row in codings(team)] == [first["code_name"]]

    reviewer.keyboard.press("j")
    following = team.coder.get(f"/projects/study/review/{view['next_segment_id']}").json()
    expect(reviewer.locator("#segment-text")).to_have_text(following["text"])
    expect(reviewer).to_have_url(f"{team.base_url}/review?project=study&segment={following['segment_id']}")


def test_reject_with_a_reason_then_undo_restores_it(reviewer: Page, team: Team) -> None:
    focused = reviewer.locator(".candidate.focused")
    reviewer.keyboard.press("r")
    dialog = reviewer.locator("#reject-dialog")
    expect(dialog).to_be_visible()
    reviewer.keyboard.press("2")
    reviewer.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(focused.locator(".verdict")).to_have_text("rejected: code too broad")
    decisions = team.coder.get("/projects/study/decisions").json()
    assert [(d["kind"], d["reason"]) for d in decisions] == [("reject", "too_broad")]

    reviewer.keyboard.press("u")
    expect(focused.locator(".verdict")).to_have_count(0)
    expect(reviewer.locator("#notice")).to_contain_text("Undone: rejected")
    assert [d["kind"] for d in team.coder.get("/projects/study/decisions").json()] == ["reject", "undo"]


def test_escape_cancels_a_rejection(reviewer: Page, team: Team) -> None:
    reviewer.keyboard.press("r")
    reviewer.keyboard.press("1")
    reviewer.keyboard.press("Escape")
    expect(reviewer.locator("#reject-dialog")).to_be_hidden()
    assert team.coder.get("/projects/study/decisions").json() == []


def test_bulk_accept_accepts_what_the_preview_listed(reviewer: Page, team: Team) -> None:
    reviewer.keyboard.press("b")
    panel = reviewer.locator("#bulk")
    expect(panel).to_be_visible()
    panel.get_by_label("Code").select_option(label="Budget constraints")
    panel.get_by_label("Minimum confidence").fill("30")
    panel.get_by_role("button", name="Preview").click()
    codes = {c["name"]: c["code_id"] for c in team.coder.get("/projects/study/codebook/counts").json()}
    preview = team.coder.post(
        "/projects/study/bulk/preview", json={"code_id": codes["Budget constraints"], "min_confidence": 0.3}
    ).json()
    count = len(preview["items"])
    assert count >= 2
    expect(panel.locator(".bulk-items li")).to_have_count(count)
    panel.get_by_role("button", name=f"Accept {count}").click()
    expect(reviewer.locator("#notice")).to_contain_text(f"Accepted {count} suggestions")
    budget_row = reviewer.locator("#codebook li", has_text="Budget constraints")
    expect(budget_row.locator(".count")).to_have_text(str(count))
    assert [row["code"] for row in codings(team)] == ["Budget constraints"] * count


def test_a_persian_segment_is_rendered_right_to_left(reviewer: Page, team: Team) -> None:
    sources = {s["name"]: s["id"] for s in team.coder.get("/projects/study/sources").json()}
    view = first_view(team, source=sources["fa.txt"])
    reviewer.goto(f"/review?project=study&source={sources['fa.txt']}")
    segment = reviewer.locator("#segment-text")
    expect(segment).to_have_text(view["text"])
    current = reviewer.locator(".turn.current")
    expect(current).to_have_attribute("dir", "rtl")
    expect(current).to_have_attribute("lang", "fa")
    assert segment.evaluate("node => getComputedStyle(node).direction") == "rtl"
    # The focused candidate's quote is highlighted, counted in code points (as Python counts) from the start.
    first = view["candidates"][0]
    start, end = first["quote_start"] - view["start"], first["quote_end"] - view["start"]
    quote = view["text"][start:end]
    expect(segment.locator("mark")).to_have_text(quote)
    expect(reviewer.locator("#filters select[name=source]")).to_have_value(sources["fa.txt"])


def test_the_shortcut_legend_shows_with_a_question_mark(reviewer: Page) -> None:
    legend = reviewer.locator("#legend")
    expect(legend).to_be_hidden()
    reviewer.keyboard.press("?")
    expect(legend).to_be_visible()
    expect(legend).to_contain_text("reject the focused one")
    reviewer.reload()
    expect(legend).to_be_visible()  # remembered
    reviewer.keyboard.press("?")
    expect(legend).to_be_hidden()


def test_zero_marks_that_no_code_applies_and_u_takes_it_back(reviewer: Page, team: Team) -> None:
    view = first_view(team)
    expect(reviewer.locator("#segment-state")).to_contain_text(f"turn {view['position'] + 1}")
    expect(reviewer.locator("#coded-speakers")).to_have_text(
        "coding every speaker except interviewers (Interviewer, I, Q, Moderator …)"
    )
    reviewer.keyboard.press("?")
    expect(reviewer.locator("#legend")).to_contain_text("no code applies to this segment")

    reviewer.keyboard.press("0")
    expect(reviewer.locator("#notice")).to_contain_text("No code applies")
    expect(reviewer.locator("#segment-text")).to_have_text(first_view(team)["text"])  # the next one
    decisions = team.coder.get("/projects/study/decisions").json()
    assert [(d["kind"], d["segment_id"]) for d in decisions] == [("no_code", view["segment_id"])]

    reviewer.keyboard.press("u")
    expect(reviewer.locator("#notice")).to_contain_text("Undone: no code applies")
    expect(reviewer.locator("#segment-text")).to_have_text(view["text"])
    reviewer.goto("/review?project=study&status=reviewed")
    expect(reviewer.locator("#position")).to_have_text("nothing left in this queue")


def test_the_uncertain_order_is_a_filter_kept_in_the_url(reviewer: Page, team: Team) -> None:
    uncertain = first_view(team, order="uncertain")
    reviewer.locator("#filters select[name=order]").select_option("uncertain")
    expect(reviewer).to_have_url(re.compile(r"order=uncertain"))
    expect(reviewer.locator("#segment-text")).to_have_text(uncertain["text"])


def test_a_conflicting_decision_reloads_the_view_with_a_notice(reviewer: Page, team: Team) -> None:
    view = first_view(team)
    first = view["candidates"][0]
    # The same coder decides in another tab (here: the API) while the page still shows version 0.
    body = {"action": "accept", "suggestion_ids": [first["suggestion_id"]], "version": 0}
    assert team.coder.post("/projects/study/decisions", json=body).is_success
    reviewer.keyboard.press("1")
    expect(reviewer.locator("#notice")).to_contain_text("changed meanwhile")
    expect(reviewer.locator(".coding .code-chip")).to_have_text([first["code_name"]])
    assert len(codings(team)) == 1


def test_edit_codes_another_code_on_the_selected_text(reviewer: Page, team: Team) -> None:
    view = first_view(team)
    reviewer.keyboard.press("e")
    dialog = reviewer.locator("#edit-dialog")
    expect(dialog).to_be_visible()
    reviewer.keyboard.type("trus")
    expect(dialog.locator("select[name=code] option")).to_have_text(["Trust"])
    reviewer.locator("#segment-text").evaluate(SELECT_TEXT, [5, 11])
    expect(dialog.locator("input[name=start]")).to_have_value("5")
    expect(dialog.locator(".span-preview")).to_have_text(view["text"][5:11])
    reviewer.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(reviewer.locator(".coding .code-chip")).to_have_text(["Trust"])
    [coding] = codings(team)
    assert coding["code"] == "Trust" and coding["text"] == view["text"][5:11]
    assert (coding["start"], coding["end"]) == (view["start"] + 5, view["start"] + 11)


def test_pages_ask_for_a_login_and_list_your_projects(team: Team) -> None:
    assert team.anonymous.get("/").headers["location"] == "/review"
    to_login = team.anonymous.get("/review", params={"project": "study"})
    assert to_login.status_code == 307
    assert to_login.headers["location"] == "/login?next=%2Freview%3Fproject%3Dstudy"
    page = team.coder.get("/review", params={"project": "study"})
    assert 'data-project="study"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    listing = team.coder.get("/review", params={"project": "elsewhere"})
    assert "No project named “elsewhere” that you are a member of" in listing.text
    assert 'href="/review?project=study"' in listing.text
    assert team.anonymous.get("/static/adjudication/review.js").status_code == 200


def test_a_proposal_becomes_a_code_then_merges_into_another(reviewer: Page, team: Team) -> None:
    view = first_view(team)
    proposal = next(c for c in view["candidates"] if c["mode"] == "inductive")
    reviewer.keyboard.press(str(proposal["rank"]))  # a number on a proposal opens "new code"
    dialog = reviewer.locator("#create-dialog")
    expect(dialog.get_by_label("Name")).to_have_value(proposal["code_name"])
    reviewer.keyboard.type("jk")  # shortcuts pressed on do not type over the proposed name
    expect(dialog.get_by_label("Name")).to_have_value(proposal["code_name"])
    reviewer.keyboard.press("Shift+Tab")
    reviewer.keyboard.press("Shift+Tab")
    reviewer.keyboard.press("Shift+Tab")  # past Cancel and the definition, to the name
    reviewer.keyboard.press("Control+a")
    reviewer.keyboard.type("Service backlog")
    reviewer.keyboard.press("Tab")
    reviewer.keyboard.type("Services waiting for money or staff.")
    reviewer.keyboard.press("Control+Enter")
    expect(reviewer.locator(".coding .code-chip")).to_have_text(["Service backlog"])
    counts = {c["name"]: c for c in team.coder.get("/projects/study/codebook/counts").json()}
    assert counts["Service backlog"]["definition"] == "Services waiting for money or staff."

    reviewer.keyboard.press("m")
    merge = reviewer.locator("#merge-dialog")
    merge.get_by_label("Keep").select_option(label="Budget constraints")
    merge.get_by_label("Fold into it").select_option(label="Service backlog")
    reviewer.keyboard.press("Enter")
    expect(reviewer.locator("#notice")).to_contain_text("Merged “Service backlog” into “Budget constraints”")
    expect(reviewer.locator("#codebook")).not_to_contain_text("Service backlog")
    assert [row["code"] for row in codings(team)] == ["Budget constraints"]
