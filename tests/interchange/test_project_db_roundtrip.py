"""REFI-QDA projects in and out of the database: round trips, vendor files, all-or-nothing, routes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import TypeAdapter
from sqlalchemy import text
from typer.testing import CliRunner

from groundcode import state
from groundcode.app import Groundcode, open_groundcode
from groundcode.cli import app as cli
from groundcode.domain import Access, DecisionKind, Role, Suggestion
from groundcode.interchange.errors import InterchangeError
from groundcode.interchange.mapping import METADATA_KEY
from groundcode.interchange.projects import import_project
from groundcode.interchange.refiqda import interchange_guid, read_project, walk_codes, write_project
from groundcode.server import create_app
from groundcode.settings import Settings
from groundcode.storage.decisions import DecisionStore
from groundcode.storage.tables import Base
from services.adjudication.models import DecideRequest, MergeRequest
from services.chunking.segmenter import ChunkOptions
from tests.interchange.support import (
    REZA,
    SARA,
    SOURCE,
    TEXT,
    TRUST,
    TRUST_QUOTE,
    VENDOR_SAMPLES,
    members,
    persian_project,
    tampered,
    zip_of,
)
from tests.live_server import api_token, serve_in_thread

ENGLISH = (
    "Interviewer: What holds the digital services back?\n"
    "P1: The budget was cut again this year, so the new servers were never bought.\n\n"
    "Interviewer: And the citizens?\n"
    "P1: Nobody trusts the new portal after the data leak last spring.\n\n"
    "Interviewer: What about the law?\n"
    "P1: The legal department says there is no legal basis for sharing the registry data.\n"
)
PERSIAN = "مصاحبه‌گر: مشکل اصلی چیست؟\nمصاحبه‌شونده: بودجه پروژه‌های دیجیتال هر سال کم می‌شود.\n"
CODEBOOK = """\
- name: Budget constraints
  definition: Lack of money or budgeting rules that hinder digital projects.
- name: Trust
  definition: Confidence of citizens in institutions and systems.
  children:
    - name: Data protection
      definition: Worries about leaks and misuse of personal data.
- name: Legal barriers
  definition: Laws or legal uncertainty that block digital cooperation.
"""
DECIDE = TypeAdapter[DecideRequest](DecideRequest)
Coded = tuple[str, str, str, int, int]  # source, coder, code, start, end


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


def environment(data: Path) -> dict[str, str]:
    # Wide enough that rich does not wrap the lines the tests look for.
    return {"GROUNDCODE_DATA_DIR": str(data), "GROUNDCODE_SUGGESTION_MODE": "both", "COLUMNS": "500"}


def decide(groundcode: Groundcode, who: Access, on: str, **request: Any) -> None:
    """Make the decision ``request`` on segment ``on``, at the version the coder's review of it is at."""
    version = groundcode.decisions.versions(who.user.id, [on])[on]
    groundcode.adjudication.decide(who, DECIDE.validate_python({**request, "version": version}))


def coder(groundcode: Groundcode, name: str) -> Access:
    project = groundcode.repository.get_project("study")
    user = groundcode.accounts.add_user(name)
    groundcode.accounts.set_member(project.id, user.id, Role.CODER)
    return Access(project=project, user=user, role=Role.CODER)


def suggestions_of(groundcode: Groundcode, source_name: str) -> list[Suggestion]:
    project = groundcode.repository.get_project("study")
    source = groundcode.repository.find_source(project.id, source_name)
    return groundcode.suggestions.list_for_source(source.id)


def code_study(groundcode: Groundcode) -> None:
    """Two coders: accepted suggestions (one by both), an edit, a new code from a proposal, a hand-made
    coding, a rejection, an undone acceptance and a merge."""
    ana, bob = coder(groundcode, "ana"), coder(groundcode, "bob")
    codes = {code.name: code for code in groundcode.repository.code_index(ana.project.id).values()}
    english = suggestions_of(groundcode, "en.txt")
    deductive = [s for s in english if s.mode == "deductive" and s.quote_start is not None]
    first, second = deductive[0], next(s for s in deductive if s.segment_id != deductive[0].segment_id)
    for who in (ana, bob):
        decide(groundcode, who, first.segment_id, action="accept", suggestion_ids=[first.id])
    decide(groundcode, bob, second.segment_id, action="accept", suggestion_ids=[second.id])
    groundcode.adjudication.undo(bob)
    protection, trust = codes["Data protection"], codes["Trust"]
    other = protection if second.code_id != protection.id else trust
    segment = groundcode.repository.get_segment(second.segment_id)
    decide(
        groundcode,
        bob,
        second.segment_id,
        action="edit",
        suggestion_id=second.id,
        code_id=other.id,
        start=segment.start,
        end=segment.start + 12,
    )
    rejected = next(s for s in deductive if s.segment_id not in (first.segment_id, second.segment_id))
    decide(
        groundcode, ana, rejected.segment_id, action="reject", suggestion_id=rejected.id, reason="too_broad"
    )
    persian = suggestions_of(groundcode, "fa.txt")
    proposal = next(s for s in persian if s.mode == "inductive")
    decide(
        groundcode,
        ana,
        proposal.segment_id,
        action="create_code",
        suggestion_id=proposal.id,
        name="بودجه",
        definition="Budget, in the interviewees' words.",
    )
    segment = groundcode.repository.get_segment(proposal.segment_id)
    decide(  # the same span as the new code's: one selection with two codings
        groundcode,
        ana,
        segment.id,
        action="code",
        segment_id=segment.id,
        code_id=codes["Budget constraints"].id,
        start=segment.start if proposal.quote_start is None else proposal.quote_start,
        end=segment.end if proposal.quote_end is None else proposal.quote_end,
    )
    groundcode.adjudication.merge(
        Access(project=ana.project, user=ana.user, role=Role.OWNER),
        MergeRequest(code_id=codes["Legal barriers"].id, merged_code_id=protection.id),
    )


@pytest.fixture(scope="module")
def coded_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with project "study": two interviews chunked by turn, suggested, and coded."""
    work = tmp_path_factory.mktemp("coded")
    (work / "en.txt").write_text(ENGLISH, encoding="utf-8")
    (work / "fa.txt").write_text(PERSIAN, encoding="utf-8")
    (work / "codebook.yaml").write_text(CODEBOOK, encoding="utf-8")
    data = work / "data"
    files = [str(work / "en.txt"), str(work / "fa.txt")]
    run(
        environment(data),
        "import",
        *files,
        "-p",
        "study",
        "--codebook",
        str(work / "codebook.yaml"),
        "--unit",
        "turn",
    )
    groundcode = open_groundcode(Settings(data_dir=data))
    try:
        code_study(groundcode)
    finally:
        groundcode.close()
    return data


@pytest.fixture
def study(coded_study: Path, tmp_path: Path) -> Path:
    """A copy of the coded study's data directory for one test."""
    data = tmp_path / "study"
    shutil.copytree(coded_study, data)
    return data


def export(data: Path, project: str, out: Path) -> bytes:
    run(environment(data), "project", "export", "-p", project, "--out", str(out))
    return out.read_bytes()


def codings_by_name(settings: Settings, project_name: str) -> set[Coded]:
    """The project's codings in force, by source, coder and code name (ids differ between databases)."""
    groundcode = open_groundcode(settings)
    try:
        project = groundcode.repository.get_project(project_name)
        sources = {source.id: source.name for source in groundcode.repository.list_sources(project.id)}
        codes = {code.id: code.name for code in groundcode.repository.code_index(project.id).values()}
        users = {user.id: user.username for user in groundcode.accounts.list_users()}
        return {
            (sources[c.source_id], users[c.coder_id], codes[c.code_id], c.start, c.end)
            for c in state.codings(groundcode.decisions.list(project.id))
        }
    finally:
        groundcode.close()


def table_counts(settings: Settings) -> dict[str, int]:
    groundcode = open_groundcode(settings)
    try:
        with groundcode.engine.connect() as connection:
            return {
                name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
                for name in Base.metadata.tables
            }
    finally:
        groundcode.close()


# Round trips


def write_memos(data: Path) -> dict[str, str]:
    """One memo of every kind in the study, written on the command line; kind -> text."""
    groundcode = open_groundcode(Settings(data_dir=data))
    try:
        project = groundcode.repository.get_project("study")
        coding = state.codings(groundcode.decisions.list(project.id))[0]
        code = groundcode.repository.code_index(project.id)[coding.code_id].name
        source = groundcode.repository.get_source(coding.source_id).name
    finally:
        groundcode.close()
    texts = {
        "project": "What makes digital government trusted?",
        "journal": "Coded the budget answers; tired.",
        "source": "The interviewee was in a hurry.",
        "code": "Wider than its definition: includes rumours.",
        "coding": "Ironic, in context.",
    }
    subjects = {"source": [source], "code": [code], "coding": [coding.decision_id]}
    for kind, body in texts.items():
        run(environment(data), "memo", "write", kind, *subjects.get(kind, []), "-p", "study", "--text", body)
    return texts


def test_a_coded_project_survives_export_import_export_unchanged(study: Path, tmp_path: Path) -> None:
    memos = write_memos(study)
    first = export(study, "study", tmp_path / "first.qdpx")
    assert export(study, "study", tmp_path / "again.qdpx") == first  # deterministic
    qda = read_project(first)
    selections = [selection for source in qda.sources for selection in source.selections]
    assert {user.name for user in qda.users} == {"ana", "bob"}
    # ana's and bob's acceptance of one suggestion, bob's edit, ana's new code and hand coding of one span
    assert sorted(len(s.codings) for s in selections) == [1, 1, 1, 2]
    notes = {note.guid: note for note in qda.notes}
    provenance = [notes[guid].text or "" for s in selections for guid in s.note_guids]
    assert sum("groundcode suggestion, accepted" in note for note in provenance) == 2
    assert any("created as a new code" in note and "backend: offline" in note for note in provenance)
    assert any(note.startswith("groundcode suggestion, edited") for note in provenance)
    assert "Data protection" not in {code.name for code, _ in walk_codes(qda.codes)}  # merged away
    # Memos where QualCoder, ATLAS.ti and MAXQDA read them: the project's in its Description, the journal
    # as its notes, a source's in its Description, a code's and a coding's as notes they refer to (and a
    # coding's in its selection's Description too, QualCoder's coding memo).
    assert qda.description == memos["project"]
    assert [notes[guid].text for guid in qda.note_guids] == [memos["journal"]]
    assert [source.description for source in qda.sources if source.description] == [memos["source"]]
    assert [notes[g].text for code, _ in walk_codes(qda.codes) for g in code.note_guids] == [memos["code"]]
    coded = [notes[g].text for s in selections for c in s.codings for g in c.note_guids]
    assert coded == [memos["coding"]]
    assert any(memos["coding"] in (s.description or "") for s in selections)
    original = codings_by_name(Settings(data_dir=study), "study")
    assert len(original) == 5 and {coder for _, coder, *_ in original} == {"ana", "bob"}

    fresh = tmp_path / "fresh"
    output = run(environment(fresh), "project", "import", str(tmp_path / "first.qdpx"), "-p", "study")
    assert "codings: 5 imported, 0 already there" in output and "memos: 5 imported" in output
    assert codings_by_name(Settings(data_dir=fresh), "study") == original
    groundcode = open_groundcode(Settings(data_dir=fresh))
    try:
        project = groundcode.repository.get_project("study")
        imported = {memo.kind.value: memo.text for memo in groundcode.memos.current(project.id)}
    finally:
        groundcode.close()
    assert imported == memos
    second = export(fresh, "study", tmp_path / "second.qdpx")
    assert members(second) == members(first)
    assert second == first


def test_importing_into_another_project_of_the_same_database_reuses_the_mapped_accounts(
    study: Path, tmp_path: Path
) -> None:
    first = export(study, "study", tmp_path / "first.qdpx")
    settings = Settings(data_dir=study)
    accounts = table_counts(settings)["users"]
    mapping = [f"--map-user={user.guid}={user.name}" for user in read_project(first).users]
    output = run(
        environment(study),
        "project",
        "import",
        str(tmp_path / "first.qdpx"),
        "-p",
        "copy",
        "--create",
        *mapping,
    )
    assert "new accounts" not in output and table_counts(settings)["users"] == accounts
    copy = read_project(export(study, "copy", tmp_path / "copy.qdpx"))
    assert copy == read_project(first).model_copy(update={"name": "copy"})
    assert codings_by_name(settings, "copy") == codings_by_name(settings, "study")


def test_reimporting_the_same_file_adds_nothing(study: Path, tmp_path: Path) -> None:
    archive = tmp_path / "study.qdpx"
    export(study, "study", archive)
    target = tmp_path / "target"
    run(environment(target), "project", "import", str(archive), "-p", "study")
    before = table_counts(Settings(data_dir=target))
    again = run(environment(target), "project", "import", str(archive), "-p", "study")
    assert "sources: 0 imported, 2 already there" in again
    assert "codings: 0 imported, 5 already there" in again
    after = table_counts(Settings(data_dir=target))
    assert {name: after[name] for name in ("sources", "codebooks", "users", "decisions")} == {
        name: before[name] for name in ("sources", "codebooks", "users", "decisions")
    }


def test_imported_codings_are_human_codings_with_their_coder_span_time_and_notes(settings: Settings) -> None:
    groundcode = open_groundcode(settings)
    try:
        qda = read_project(write_project(persian_project()))
        outcome = import_project(groundcode, "fa", qda, ChunkOptions(), where="fa.qdpx")
        project = groundcode.repository.get_project("fa")
        decisions = groundcode.decisions.list(project.id)
        users = {user.id: user for user in groundcode.accounts.list_users()}
        roles = {member.user.username: member.role for member in groundcode.accounts.members(project.id)}
        (source,) = groundcode.repository.list_sources(project.id)
        segments = {segment.id: segment for segment in groundcode.repository.list_segments(source.id)}
    finally:
        groundcode.close()
    assert outcome.summary.accounts_added == ["Sara", "رضا"] and roles == {
        "Sara": Role.CODER,
        "رضا": Role.CODER,
    }
    assert source.text == TEXT  # "\r\n", ZWNJ and the emoji exactly as shipped
    assert source.metadata[METADATA_KEY]["notes"][0]["text"] == "مصاحبه در تهران"
    assert all(decision.kind == DecisionKind.CODE for decision in decisions)
    # The scoring hook: the human codings in force, each with its coder.
    codings = {users[c.coder_id].username: c for c in state.codings(decisions)}
    assert set(codings) == {"Sara", "رضا"}
    trust = codings["Sara"]
    assert source.text[trust.start : trust.end] == TRUST_QUOTE
    segment = segments[trust.segment_id]
    assert segment.start <= trust.start and trust.end <= segment.end
    note = next(d.note for d in decisions if d.id == trust.decision_id)
    assert note == "backend: offline\nconfidence: 0.82"
    assert codings["رضا"].decided_at.microsecond == 123456
    assert (
        interchange_guid("user", trust.coder_id) == SARA
        and interchange_guid("user", codings["رضا"].coder_id) == REZA
    )
    assert interchange_guid("code", trust.code_id, project.id) == TRUST
    assert interchange_guid("source", source.id, project.id) == SOURCE


# Vendor files


def test_the_nvivo_sample_imports_its_codebook_and_users(settings: Settings) -> None:
    groundcode = open_groundcode(settings)
    try:
        qda = read_project(VENDOR_SAMPLES / "nvivo_project.qdpx")
        summary = import_project(groundcode, "nvivo", qda, ChunkOptions(), where="nvivo_project.qdpx").summary
        project = groundcode.repository.get_project("nvivo")
        codebook = groundcode.repository.latest_codebook(project.id)
        members = {member.user.username for member in groundcode.accounts.members(project.id)}
    finally:
        groundcode.close()
    assert codebook is not None and len(codebook.codes) == summary.codes == 262
    assert codebook.name == "qc project"
    assert summary.users == ["chrisp", "cp"] and members == {"chrisp", "cp"}
    assert summary.sources_added == [] and summary.codings_added == 0
    assert len(summary.left_out) == 2
    assert all("plain text is empty" in line for line in summary.left_out)


def test_the_atlas_sample_imports_what_it_has_and_reports_the_rest(tmp_path: Path) -> None:
    data = tmp_path / "data"
    output = run(
        environment(data),
        "project",
        "import",
        str(VENDOR_SAMPLES / "atlas-standard-project.qde"),
        "-p",
        "atlas",
    )
    assert "codebook 'ATLAS.ti standard project' version 1: 14 codes" in output
    assert "users: ATLAS.ti, Friedrich_Markgraf, Sebastian_Petrausch" in output
    assert "sources: 0 imported" in output
    assert output.count("its text is not in the file") == 6
    assert "'Mabel.txt'" in output and "coding(s) are not imported" in output
    assert "2 PDFSource" in output and "1 AudioSource" in output and "2 VideoSource" in output
    assert "memos: 2 imported" in output  # the notes nothing refers to, 'Research Plan'...: journal entries
    exported = read_project(export(data, "atlas", tmp_path / "atlas.qdpx"))
    original = read_project(VENDOR_SAMPLES / "atlas-standard-project.qde")
    assert [code.guid for code, _ in walk_codes(exported.codes)] == [
        code.guid for code, _ in walk_codes(original.codes)
    ]
    # The journal entries go out as the project's notes, with the GUIDs they came with.
    assert [(note.guid, note.name) for note in exported.notes] == [
        (note.guid, note.name) for note in original.notes
    ]
    assert exported.note_guids == [note.guid for note in original.notes]


# All or nothing


def test_a_hostile_or_broken_file_changes_nothing(study: Path, tmp_path: Path) -> None:
    archive = write_project(persian_project())
    broken = {
        "unknown-code.qdpx": tampered(
            archive, f'targetGUID="{TRUST}"', 'targetGUID="00000000-0000-4000-8000-000000000009"'
        ),
        "xxe.qde": b'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Project xmlns="urn:QDA-XML:project:1.0" name="&x;"/>',
        "missing-text.qdpx": zip_of({"project.qde": members(archive)["project.qde"]}),
    }
    settings = Settings(data_dir=study)
    before = table_counts(settings)
    for name, data in broken.items():
        (tmp_path / name).write_bytes(data)
        result = CliRunner().invoke(
            cli, ["project", "import", str(tmp_path / name), "-p", "study"], env=environment(study)
        )
        assert result.exit_code == 1 and "nothing imported" in result.output, result.output
    assert table_counts(settings) == before


def test_a_source_imported_before_with_another_text_is_refused(settings: Settings) -> None:
    archive = write_project(persian_project())
    files = members(archive)
    files[f"sources/{SOURCE}.txt"] = (TEXT + "P2: and another answer.\n").encode("utf-8")
    groundcode = open_groundcode(settings)
    try:
        import_project(groundcode, "fa", read_project(archive), ChunkOptions(), where="first.qdpx")
        before = table_counts(settings)
        with pytest.raises(InterchangeError, match="imported into this project before with another text"):
            import_project(groundcode, "fa", read_project(zip_of(files)), ChunkOptions(), where="second.qdpx")
    finally:
        groundcode.close()
    assert table_counts(settings) == before


def test_a_failure_while_writing_stores_nothing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    append = DecisionStore.append

    def append_then_fail(self: DecisionStore, *args: Any, **kwargs: Any) -> dict[str, int]:
        append(self, *args, **kwargs)
        raise RuntimeError("the disk is full")

    before = table_counts(settings)
    monkeypatch.setattr(DecisionStore, "append", append_then_fail)
    groundcode = open_groundcode(settings)
    try:
        with pytest.raises(RuntimeError, match="disk is full"):
            import_project(
                groundcode, "fa", read_project(write_project(persian_project())), ChunkOptions(), where="x"
            )
    finally:
        groundcode.close()
    assert table_counts(settings) == before


# Routes


@dataclass
class Clients:
    owner: httpx.Client
    ana: httpx.Client
    outsider: httpx.Client


@pytest.fixture
def clients(study: Path) -> Iterator[Clients]:
    settings = Settings(data_dir=study, max_file_bytes=100_000)
    headers = {
        "owner": api_token(settings, "olga", projects=["study", "second"], role=Role.OWNER),
        "ana": api_token(settings, "ana", projects=["study"], role=Role.CODER),
        "outsider": api_token(settings, "otto", projects=["elsewhere"], role=Role.OWNER),
    }
    with serve_in_thread(create_app(settings)) as base_url:
        opened = {name: httpx.Client(base_url=base_url, timeout=60, headers=h) for name, h in headers.items()}
        try:
            yield Clients(**opened)
        finally:
            for client in opened.values():
                client.close()


def test_export_route_serves_members_with_blind_coding(clients: Clients, study: Path, tmp_path: Path) -> None:
    response = clients.owner.get("/projects/study/export.qdpx")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    assert "study.qdpx" in response.headers["content-disposition"]
    assert response.content == export(study, "study", tmp_path / "cli.qdpx")  # the owner sees everything
    mine = read_project(clients.ana.get("/projects/study/export.qdpx").content)
    creators = {coding.creating_user for s in mine.sources for sel in s.selections for coding in sel.codings}
    assert [user.name for user in mine.users] == ["ana"] and len(creators) == 1
    assert clients.outsider.get("/projects/study/export.qdpx").status_code == 404


def test_import_route_is_for_owners_and_limits_the_upload(clients: Clients) -> None:
    archive = clients.owner.get("/projects/study/export.qdpx").content
    upload = {"file": ("study.qdpx", archive, "application/zip")}
    assert clients.outsider.post("/projects/study/import-qdpx", files=upload).status_code == 404
    refused = clients.ana.post("/projects/study/import-qdpx", files=upload)
    assert refused.status_code == 403, refused.text
    again = clients.owner.post("/projects/study/import-qdpx", files=upload)
    assert again.status_code == 200, again.text
    assert again.json()["codings_added"] == 0 and again.json()["codings_known"] == 5
    copied = clients.owner.post("/projects/second/import-qdpx", files=upload, data={"unit": "turn"})
    assert copied.status_code == 200 and copied.json()["codings_added"] == 5
    broken = {"file": ("broken.qdpx", archive[:-40], "application/zip")}
    answer = clients.owner.post("/projects/second/import-qdpx", files=broken)
    assert answer.status_code == 400 and "broken.qdpx: nothing imported" in answer.json()["detail"]
    large = {"file": ("large.qdpx", b"x" * 100_001, "application/zip")}
    assert clients.owner.post("/projects/second/import-qdpx", files=large).status_code == 413


def qualcoder_export() -> bytes:
    """A .qdpx as QualCoder 3.x writes it (refi.py): a random Project creatingUserGUID that is no User
    ("there is no creating user in QualCoder"), the coder a User by name, the text under internal:// with a
    byte-order mark, a category as a code that is not codable, the project memo in the Project's Description,
    a journal as a Note, a coding memo in its selection's Description; and a second coder's coding whose
    creatingUser the file does not list."""
    text = "Interviewer: What changed?\nP1: Trust came back slowly.\n"
    start = text.index("Trust")
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
name="study" origin="QualCoder 3.5" creatingUserGUID="9b1e2a43-5c6d-4e7f-8a9b-0c1d2e3f4a5b" \
creationDateTime="2024-05-01T10:30:00Z" xmlns="urn:QDA-XML:project:1.0">
<Users>
<User guid="11111111-2222-4333-8444-555555555555" name="default" />
</Users>
<CodeBook>
<Codes>
<Code guid="aaaaaaaa-bbbb-4ccc-8ddd-000000000000" name="attitudes" isCodable="false" color="#00FF00">
<Code guid="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" name="trust" isCodable="true" color="#FF0000">
<Description>Trust in institutions</Description>
</Code>
</Code>
</Codes>
</CodeBook>
<Sources>
<TextSource plainTextPath="internal://interview.txt" creatingUser="11111111-2222-4333-8444-555555555555" \
creationDateTime="2024-05-01T10:30:00Z" guid="cccccccc-dddd-4eee-8fff-000000000000" name="interview.txt">
<PlainTextSelection guid="dddddddd-eeee-4fff-8000-111111111111" startPosition="{start}" \
endPosition="{start + len("Trust came back")}" creatingUser="11111111-2222-4333-8444-555555555555" \
creationDateTime="2024-05-01T10:31:00Z">
<Description>Said with a sigh.</Description>
<Coding guid="eeeeeeee-ffff-4000-8111-222222222222" creatingUser="11111111-2222-4333-8444-555555555555" \
creationDateTime="2024-05-01T10:31:00Z">
<CodeRef targetGUID="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" />
</Coding>
</PlainTextSelection>
<PlainTextSelection guid="dddddddd-eeee-4fff-8000-333333333333" startPosition="0" endPosition="11" \
creatingUser="77777777-8888-4999-8aaa-bbbbbbbbbbbb" creationDateTime="2024-05-01T10:32:00Z">
<Coding guid="eeeeeeee-ffff-4000-8111-444444444444" creatingUser="77777777-8888-4999-8aaa-bbbbbbbbbbbb" \
creationDateTime="2024-05-01T10:32:00Z">
<CodeRef targetGUID="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee" />
</Coding>
</PlainTextSelection>
</TextSource>
</Sources>
<Notes>
<Note guid="ffffffff-0000-4111-8222-333333333333" name="First interview" \
creatingUser="11111111-2222-4333-8444-555555555555" creationDateTime="2024-05-01T11:00:00Z">
<PlainTextContent>Rapport came quickly.</PlainTextContent>
</Note>
</Notes>
<Description>A QualCoder project</Description>
</Project>
"""
    return zip_of({"project.qde": xml.encode("utf-8"), "sources/interview.txt": text.encode("utf-8-sig")})


def test_a_qualcoder_export_imports_although_creating_users_are_not_among_its_users(
    settings: Settings,
) -> None:
    groundcode = open_groundcode(settings)
    try:
        qda = read_project(qualcoder_export())
        summary = import_project(groundcode, "qc", qda, ChunkOptions(), where="qualcoder.qdpx").summary
        project = groundcode.repository.get_project("qc")
        codings = state.codings(groundcode.decisions.list(project.id))
        users = {user.id: user.username for user in groundcode.accounts.list_users()}
        (source,) = groundcode.repository.list_sources(project.id)
        source_text = source.text
        memos = {memo.kind.value: memo for memo in groundcode.memos.current(project.id)}
        default_coding = next(c.decision_id for c in codings if users[c.coder_id] == "default")
    finally:
        groundcode.close()
    assert qda.creating_user is None and qda.stray_creator == "9b1e2a43-5c6d-4e7f-8a9b-0c1d2e3f4a5b"
    assert qda.unlisted_users == ["77777777-8888-4999-8aaa-bbbbbbbbbbbb"]
    assert summary.codings_added == 2
    assert sorted(users[c.coder_id] for c in codings) == ["default", "unknown-77777777"]
    assert source_text.startswith("Interviewer:")  # the BOM is not part of the text offsets count
    warnings = "\n".join(summary.left_out)
    assert "creatingUserGUID 9b1e2a43-5c6d-4e7f-8a9b-0c1d2e3f4a5b is not one of its Users" in warnings
    assert "creatingUser 77777777-8888-4999-8aaa-bbbbbbbbbbbb is not one of the file's Users" in warnings
    assert memos["project"].text == "A QualCoder project"
    assert (memos["journal"].title, memos["journal"].text) == ("First interview", "Rapport came quickly.")
    assert users[memos["journal"].author_id] == "default"
    assert (memos["coding"].subject_id, memos["coding"].text) == (default_coding, "Said with a sigh.")
    assert summary.memos_added == 3
