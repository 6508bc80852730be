"""The memos page in a real browser (the review page tests' Chromium) on the coded study: a journal entry
and the project memo written, found by search, edited, refused when stale, read back through its history
and deleted; viewers read only."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.adjudication.test_review_page import browser, page
from tests.analysis.conftest import Team
from tests.analysis.test_analysis_page import log_in as log_in_at
from tests.live_server import api_token

__all__ = ["browser", "page"]


def log_in(page: Page, team: Team, username: str) -> Page:
    """``username`` logged in on the memos page of project "study", with a new memo in the form."""
    logged_in = log_in_at(page, team, username, where="memos", ready="#memo-form")
    expect(logged_in.locator("#memo-state")).to_have_text("new")
    return logged_in


def test_write_search_edit_and_delete_memos(page: Page, team: Team) -> None:
    writer = log_in(page, team, "cyrus")
    form = writer.locator("#memo-form")
    form.get_by_label("Title").fill("Day 1")
    form.get_by_label("Text").fill("The first interviews felt guarded.")
    form.get_by_role("button", name="Save").click()
    expect(writer.locator("#notice")).to_contain_text("Saved: version 1")

    form.get_by_role("button", name="New journal entry").click()
    form.get_by_label("About").select_option("project")
    form.get_by_label("Text").fill("What makes e-government trusted?")
    form.get_by_role("button", name="Save").click()
    expect(writer.locator("#memo-items li")).to_have_count(2)

    writer.get_by_label("Search").fill("GUARDED")
    expect(writer.locator("#memo-items li")).to_have_count(1)
    writer.locator("#memo-items li").first.click()
    expect(form.get_by_label("Text")).to_have_value("The first interviews felt guarded.")
    expect(writer.locator("#memo-state")).to_contain_text("version 1")
    team.coder.headers.update(api_token(team.settings, "cyrus"))  # a new password revoked the old token
    journal = team.coder.get("/projects/study/memos", params={"kind": "journal"}).json()[0]["memo"]
    saved_elsewhere = team.coder.post(
        "/projects/study/memos",
        json={
            "kind": "journal",
            "memo_id": journal["memo_id"],
            "title": "Day 1",
            "text": "Edited in another tab.",
            "version": 1,
        },
    )
    assert saved_elsewhere.status_code == 200
    form.get_by_label("Text").fill("Guarded at first, then open.")
    form.get_by_role("button", name="Save").click()
    expect(writer.locator("#notice")).to_contain_text("version 2, you had 1")
    expect(form.get_by_label("Text")).to_have_value("Guarded at first, then open.")  # nothing lost

    writer.get_by_label("Search").fill("")
    writer.locator("#memo-items li", has_text="Day 1").click()
    expect(writer.locator("#memo-state")).to_contain_text("version 2")  # as it stands now
    form.get_by_label("Text").fill("Guarded at first, then open.")
    form.get_by_role("button", name="Save").click()
    expect(writer.locator("#notice")).to_contain_text("Saved: version 3")
    form.get_by_role("button", name="History").click()
    expect(writer.locator("#memo-versions li")).to_have_count(3)
    writer.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Delete").click()
    expect(writer.locator("#notice")).to_contain_text("Deleted")
    expect(writer.locator("#memo-items li")).to_have_count(1)


def test_viewers_read_memos_without_writing(page: Page, team: Team) -> None:
    team.owner.post("/projects/study/memos", json={"kind": "project", "text": "Shared aims."})
    reader = log_in(page, team, "vera")
    expect(reader.locator("#memo-items li")).to_have_count(1)
    reader.locator("#memo-items li").first.click()
    expect(reader.locator("#memo-form").get_by_label("Text")).to_have_value("Shared aims.")
    expect(reader.locator("#memo-form").get_by_role("button", name="Save")).to_be_disabled()
