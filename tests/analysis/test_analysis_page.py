"""The analysis page in a real browser (the review page tests' Chromium) on the coded study: the
saturation plot and table, then the axial-coding proposal renamed, rearranged and applied."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from groundcode.app import open_groundcode
from tests.adjudication.test_review_page import PASSWORD, browser, page
from tests.analysis.conftest import Team
from tests.analysis.study import SATURATION
from tests.live_server import api_token

__all__ = ["browser", "page"]


def log_in(page: Page, team: Team, username: str, where: str = "analysis", ready: str = "#groups li") -> Page:
    """``username`` logged in through the form, on page ``where`` of project "study", once ``ready`` shows."""
    groundcode = open_groundcode(team.settings)
    groundcode.accounts.set_password(username, PASSWORD)
    groundcode.close()
    page.goto(f"/{where}?project=study")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator(ready).first).to_be_visible()
    return page


def test_rename_and_move_then_apply_nests_the_codebook(page: Page, team: Team) -> None:
    analyst = log_in(page, team, "cyrus")
    team.coder.headers.update(api_token(team.settings, "cyrus"))  # a new password revoked the old token
    plot = analyst.locator("#saturation-plot")
    expect(plot).to_have_js_property("complete", True)
    assert plot.evaluate("image => image.naturalWidth") > 0
    saturation = f"interview {SATURATION} (interview_11.txt)"
    expect(analyst.locator("#saturation-points")).to_contain_text(saturation)
    expect(analyst.locator(".saturation-accepted td").first).to_have_text(str(SATURATION))

    first, second = analyst.locator("#groups .group").nth(0), analyst.locator("#groups .group").nth(1)
    first.get_by_role("textbox").fill("Barriers")
    moved = second.locator(".group-codes li").last
    moved_name = moved.locator("span").inner_text()
    moved.get_by_role("combobox").select_option(label="Barriers")
    expect(first.locator(".group-codes")).to_contain_text(moved_name)
    analyst.get_by_role("button", name="Apply").click()

    expect(analyst.locator("#notice")).to_contain_text("Applied: codebook version")
    barriers = analyst.locator("#hierarchy > li").filter(has=analyst.locator("> span", has_text="Barriers"))
    expect(barriers.locator("ul")).to_contain_text(moved_name)
    counts = team.coder.get("/projects/study/codebook/counts").json()
    parent = {code["name"]: code["parent_id"] for code in counts}
    [barriers_id] = [code["code_id"] for code in counts if code["name"] == "Barriers"]
    assert parent[moved_name] == barriers_id


def test_viewers_read_the_page_without_apply(page: Page, team: Team) -> None:
    reader = log_in(page, team, "vera")  # blind coding: no decisions of their own, so nothing to group
    expect(reader.locator("#saturation-table tbody tr")).to_have_count(15)
    expect(reader.locator("#saturation-points")).to_contain_text("not reached")
    expect(reader.locator("#groups")).to_have_text("No accepted codings to group yet.")
    assert reader.get_by_role("button", name="Apply").count() == 0
    reader.get_by_role("link", name="Review").click()
    expect(reader.get_by_role("link", name="Analysis")).to_be_visible()
