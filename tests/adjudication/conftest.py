"""A prepared study for the adjudication tests: two interviews (English, Persian), a codebook and offline
suggestions (deductive and inductive), built once through the real CLI pipeline and copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from groundcode.cli import app as cli
from groundcode.domain import Role
from groundcode.server import create_app
from groundcode.settings import Settings
from tests.live_server import api_token, serve_in_thread

ENGLISH = (
    "Interviewer: What holds the digital services back?\n"
    "P1: The budget was cut again this year, so the new servers were never bought.\n\n"
    "Interviewer: How do departments exchange documents?\n"
    "P1: We still send letters and attach files to emails between the agencies.\n\n"
    "Interviewer: And the citizens?\n"
    "P1: Nobody trusts the new portal after the data leak last spring.\n\n"
    "Interviewer: What about the law?\n"
    "P1: The legal department says there is no legal basis for sharing the registry data.\n\n"
    "Interviewer: Anything else?\n"
    "P1: Funding for maintenance is always the first thing cut from the annual budget.\n"
)
PERSIAN = (
    "مصاحبه‌گر: مشکل اصلی چیست؟\n"
    "مصاحبه‌شونده: بودجه پروژه‌های دیجیتال هر سال کم می‌شود.\n\n"
    "مصاحبه‌گر: شهروندان چطور؟\n"
    "مصاحبه‌شونده: مردم به سامانه جدید اعتماد ندارند.\n"
)
CODEBOOK = """\
- name: Budget constraints
  definition: Lack of money or budgeting rules that hinder digital projects.
- name: Inter-agency data sharing
  definition: How data moves, or fails to move, between departments and agencies.
- name: Trust
  definition: Confidence of citizens in institutions and systems.
- name: Legal barriers
  definition: Laws or legal uncertainty that block digital cooperation.
"""


@pytest.fixture(scope="session")
def prepared_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with project "study" imported, chunked by turn, indexed and suggested (both modes)."""
    work = tmp_path_factory.mktemp("prepared")
    (work / "en.txt").write_text(ENGLISH, encoding="utf-8")
    (work / "fa.txt").write_text(PERSIAN, encoding="utf-8")
    (work / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    env = {"GROUNDCODE_DATA_DIR": str(work / "data"), "GROUNDCODE_SUGGESTION_MODE": "both"}
    files = [str(work / "en.txt"), str(work / "fa.txt")]
    result = CliRunner().invoke(
        cli,
        ["import", *files, "-p", "study", "--codebook", str(work / "codebook.yaml"), "--unit", "turn"],
        env=env,
    )
    assert result.exit_code == 0, result.output
    return work / "data"


@dataclass
class Team:
    """The running app and one client per member: an owner, a coder, a viewer and an outsider."""

    settings: Settings
    base_url: str
    owner: httpx.Client
    coder: httpx.Client
    viewer: httpx.Client
    outsider: httpx.Client
    anonymous: httpx.Client


@pytest.fixture
def team(prepared_study: Path, tmp_path: Path) -> Iterator[Team]:
    data = tmp_path / "data"
    shutil.copytree(prepared_study, data)
    settings = Settings(data_dir=data)
    headers = {
        "owner": api_token(settings, "olga", projects=["study"], role=Role.OWNER, admin=True),
        "coder": api_token(settings, "cyrus", projects=["study"], role=Role.CODER),
        "viewer": api_token(settings, "vera", projects=["study"], role=Role.VIEWER),
        "outsider": api_token(settings, "otto", projects=["elsewhere"], role=Role.OWNER),
        "anonymous": {},
    }
    with serve_in_thread(create_app(settings)) as base_url:
        clients = {
            name: httpx.Client(base_url=base_url, timeout=60, headers=h) for name, h in headers.items()
        }
        try:
            yield Team(settings=settings, base_url=base_url, **clients)
        finally:
            for client in clients.values():
                client.close()
