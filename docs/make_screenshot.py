"""Make ``docs/review-page.png``: the review page at 1280×800 on the bundled demo study, as a researcher
sees it after accepting one suggestion, with the keyboard legend shown; and ``docs/memos-page.png``: the
memos page with a project memo, journal entries and a code memo, one of them open; and
``docs/document-page.png``: the document page at the same segment, a coding clicked.

    .venv/bin/python -m docs.make_screenshot

Runs ``groundcode demo`` and ``groundcode serve`` in a temporary data directory and drives Debian's
Chromium (``/usr/bin/chromium``) with Playwright.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

from groundcode.app import open_groundcode
from groundcode.settings import Settings
from tests.browser import launch_chromium

OUTPUT = Path(__file__).with_name("review-page.png")
MEMOS_OUTPUT = Path(__file__).with_name("memos-page.png")
DOCUMENT_OUTPUT = Path(__file__).with_name("document-page.png")
MEMOS = (
    ("project", [], "Aims", "What makes citizens trust e-government services, and what breaks that trust?"),
    (
        "journal",
        [],
        "Day 1",
        "Both interviewees spoke of the district offices first; infrastructure may be "
        "the way into trust, not a separate theme.",
    ),
    (
        "code",
        ["ICT infrastructure"],
        "",
        "Wider than its definition: the interviewees include the staff who keep the connections running.",
    ),
    (
        "journal",
        [],
        "Day 2",
        "The Persian interview names the same offices. Check whether 'connection' "
        "means the network or the people.",
    ),
)
GROUNDCODE = str(Path(sys.executable).with_name("groundcode"))
PASSWORD = "screenshot only"
SHOWN_SENTENCE = "the district offices still run on connections"


def prepare(data_dir: Path, env: dict[str, str]) -> str:
    """Run the demo import, give its reviewer a known password, and return the id of the segment to show."""
    subprocess.run([GROUNDCODE, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    for kind, subject, title, text in MEMOS:
        memo = [GROUNDCODE, "memo", "write", kind, *subject, "-p", "demo", "--text", text, "--title", title]
        subprocess.run(memo, env=env, check=True, stdout=subprocess.DEVNULL)
    groundcode = open_groundcode(Settings(data_dir=data_dir))
    try:
        groundcode.accounts.set_password("demo", PASSWORD)
        project = groundcode.repository.get_project("demo")
        segments = (
            segment
            for source in groundcode.repository.list_sources(project.id)
            for segment in groundcode.repository.list_segments(source.id)
        )
        return next(segment.id for segment in segments if SHOWN_SENTENCE in segment.text)
    finally:
        groundcode.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_up(base_url: str, timeout_seconds: float = 60) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/health").is_success:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("groundcode serve did not start")


def screenshot(base_url: str, segment_id: str) -> None:
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=base_url)
        page.goto(f"/review?project=demo&status=all&segment={segment_id}")
        page.get_by_label("User name").fill("demo")
        page.get_by_label("Password").fill(PASSWORD)
        page.keyboard.press("Enter")
        expect(page.locator(".candidate").first).to_be_visible()
        page.keyboard.press("1")
        expect(page.locator(".coding")).to_have_count(1)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("?")
        expect(page.locator("#notice")).to_be_hidden(timeout=10_000)
        page.screenshot(path=OUTPUT)
        page.goto("/memos?project=demo")
        page.locator("#memo-items li", has_text="Day 1").click()
        expect(page.locator("#memo-state")).to_contain_text("version 1")
        page.screenshot(path=MEMOS_OUTPUT)
        page.goto(f"/document?project=demo&source=interview_01_en.txt&segment={segment_id}")
        page.locator("#doc-body .coded").first.click()
        expect(page.locator("#doc-codings li")).not_to_have_count(0)
        page.screenshot(path=DOCUMENT_OUTPUT)
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        env = {**os.environ, "GROUNDCODE_DATA_DIR": str(data_dir), "GROUNDCODE_SUGGESTION_MODE": "both"}
        segment_id = prepare(data_dir, env)
        port = free_port()
        server = subprocess.Popen([GROUNDCODE, "serve", "--port", str(port)], env=env)
        try:
            wait_until_up(f"http://127.0.0.1:{port}")
            screenshot(f"http://127.0.0.1:{port}", segment_id)
        finally:
            server.terminate()
            server.wait(30)
    print(f"wrote {OUTPUT}, {MEMOS_OUTPUT} and {DOCUMENT_OUTPUT}")


if __name__ == "__main__":
    main()
