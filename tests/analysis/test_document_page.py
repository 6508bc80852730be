"""The document page in a real browser (the review page tests' Chromium) on the coded study: the whole
transcript with its speakers and the codings highlighted; a click on a highlight says who coded it, when and
how; a selection within a segment is coded by hand and highlighted; the review page links here."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.adjudication.test_review_page import SELECT_TEXT, browser, page
from tests.analysis.conftest import Team
from tests.analysis.test_analysis_page import log_in
from tests.live_server import api_token

__all__ = ["browser", "page"]


def test_read_the_codings_then_code_a_selection(page: Page, team: Team) -> None:
    reader = log_in(page, team, "cyrus", where="document", ready="#doc-body .seg")
    team.coder.headers.update(api_token(team.settings, "cyrus"))  # a new password revoked the old token
    source = reader.locator("#doc-source").input_value()
    codings = team.coder.get("/projects/study/codings", params={"source": source}).json()
    assert codings, "the coded study has codings in its first interview"
    expect(reader.locator("#doc-body .speaker").first).to_be_visible()
    first = codings[0]
    highlight = reader.locator("#doc-body .coded", has_text=first["text"][:12]).first
    highlight.click()
    here = reader.locator("#doc-codings li").first
    expect(here).to_contain_text(first["code"])
    expect(here).to_contain_text("cyrus")

    segments = team.coder.get(f"/projects/study/sources/{source}/segments").json()
    last = segments[-1]
    element = reader.locator(f"#segment-{last['id']}")
    element.scroll_into_view_if_needed()
    element.evaluate(SELECT_TEXT, [0, 8])
    form = reader.locator("#code-form")
    expect(form).to_be_visible()
    expect(form.locator("#selection-text")).to_have_text(last["text"][:8])
    code = form.get_by_label("Code").locator("option").first.inner_text()
    form.get_by_role("button", name="Code it").click()
    expect(reader.locator("#notice")).to_contain_text(f"Coded with “{code}”")
    expect(reader.locator("#doc-meta")).to_contain_text(f"{len(codings) + 1} codings")
    after = team.coder.get("/projects/study/codings", params={"source": source}).json()
    made = [c for c in after if (c["start"], c["end"]) == (last["start"], last["start"] + 8)]
    assert [(c["code"], c["coder"], c["backend"]) for c in made] == [(code, "cyrus", None)]
    made_here = element.locator(f".coded[title*='{code} (cyrus)']").first
    expect(made_here).to_be_visible()

    made_here.click()  # and take it off again: an appended decision, which undo reverses
    mine = reader.locator("#doc-codings li", has_text=code).filter(
        has=reader.get_by_role("button", name="Remove")
    )
    mine.first.get_by_role("button", name="Remove").click()
    expect(reader.locator("#notice")).to_contain_text(f"Removed “{code}” here")
    expect(reader.locator("#doc-meta")).to_contain_text(f"{len(codings)} codings")
    assert team.coder.post("/projects/study/undo").json()["undone"]["kind"] == "remove"
    restored = team.coder.get("/projects/study/codings", params={"source": source}).json()
    assert len(restored) == len(codings) + 1


def test_only_your_own_coding_in_force_can_be_removed(team: Team) -> None:
    owner_coding = next(c for c in team.owner.get("/projects/study/codings").json() if c["coder"] == "olga")
    segments = team.owner.get("/projects/study/review", params={"status": "all"}).json()
    version = team.coder.get(f"/projects/study/review/{segments['segment_id']}").json()["version"]
    body = {"action": "remove", "decision_id": owner_coding["decision_id"], "version": version}
    refused = team.coder.post("/projects/study/decisions", json=body)
    assert refused.status_code == 400 and "no coding in force" in refused.text
    unknown = team.coder.post("/projects/study/decisions", json={**body, "decision_id": "nope"})
    assert unknown.status_code == 400


def test_the_review_page_opens_the_document_at_its_segment(page: Page, team: Team) -> None:
    reviewer = log_in(page, team, "cyrus", where="review", ready="#transcript")
    reviewer.goto("/review?project=study&status=all")  # cyrus has reviewed every segment of the queue
    link = reviewer.locator("#open-document")
    expect(link).to_be_visible()
    link.click()
    expect(reviewer.locator("#doc-body .seg.focus")).to_have_count(1)
