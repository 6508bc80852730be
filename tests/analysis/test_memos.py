"""Memos: project, source, code and coding memos and a journal; every version kept, stale writes refused
with 409, blind coding hiding other coders' journal and coding memos; the command line and the Markdown
export."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundcode.cli import app as cli
from groundcode.domain import Memo, MemoKind
from services.analysis.memos import MemoError, MemoView, MemoWrite, matching, memos_markdown, next_version
from tests.adjudication.conftest import Team

MEMOS = "/projects/study/memos"


def write(client: object, **request: object) -> dict[str, object]:
    answer = client.post(MEMOS, json=request)  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.text
    memo: dict[str, object] = answer.json()["memo"]
    return memo


def test_a_memo_is_written_again_as_a_new_version_and_a_stale_write_is_refused(team: Team) -> None:
    first = write(team.owner, kind="project", title="Aims", text="What builds trust in e-government?")
    second = write(team.coder, kind="project", text="Trust, and how officials earn it.", version=1)
    assert first["memo_id"] == second["memo_id"] and second["version"] == 2
    stale = team.owner.post(MEMOS, json={"kind": "project", "text": "My older idea.", "version": 1})
    assert stale.status_code == 409 and "version 2, you had 1" in stale.text
    history = team.viewer.get(f"{MEMOS}/{first['memo_id']}/history").json()
    assert [(v["memo"]["text"], v["author"]) for v in history] == [
        ("What builds trust in e-government?", "olga"),
        ("Trust, and how officials earn it.", "cyrus"),
    ]
    assert team.viewer.post(MEMOS, json={"kind": "project", "text": "x", "version": 2}).status_code == 403
    assert team.outsider.get(MEMOS).status_code in (403, 404)


def test_source_code_and_coding_memos_name_their_subject_and_can_be_searched(team: Team) -> None:
    coding = team.owner.get("/projects/study/codings").json()[0]
    source = team.owner.get("/projects/study/sources").json()[0]["name"]
    write(team.owner, kind="source", subject=source, text="Long pauses before answers on trust.")
    write(team.owner, kind="code", subject=coding["code"], text="Broader than the definition says.")
    write(team.owner, kind="coding", subject=coding["decision_id"], text="Coded for the irony.")
    listed = team.owner.get(MEMOS).json()
    assert [v["memo"]["kind"] for v in listed] == ["source", "code", "coding"]
    assert listed[0]["about"] == source and listed[1]["about"] == coding["code"]
    assert listed[2]["about"].startswith(f"{coding['code']} on {coding['source']}")
    found = team.owner.get(MEMOS, params={"q": "IRONY"}).json()
    assert [v["memo"]["text"] for v in found] == ["Coded for the irony."]
    about = team.owner.get(MEMOS, params={"kind": "source", "subject": source}).json()
    assert len(about) == 1
    for bad, problem in [
        ({"kind": "source", "subject": "nowhere.txt", "text": "x"}, 404),
        ({"kind": "code", "subject": "No such code", "text": "x"}, 404),
        ({"kind": "coding", "subject": "not-a-decision", "text": "x"}, 404),
        ({"kind": "source", "text": "x"}, 400),
        ({"kind": "project", "subject": source, "text": "x"}, 400),
        ({"kind": "journal", "text": "x" * 200_001}, 422),
    ]:
        assert team.owner.post(MEMOS, json=bad).status_code == problem, bad


def test_a_deleted_memo_leaves_the_list_and_keeps_its_history(team: Team) -> None:
    memo = write(team.coder, kind="journal", title="Day 1", text="Interviews felt guarded.")
    memo_id = memo["memo_id"]
    edited = write(team.coder, kind="journal", memo_id=memo_id, text="Guarded, then open.", version=1)
    assert edited["version"] == 2 and edited["title"] == ""
    assert team.coder.delete(f"{MEMOS}/{memo_id}", params={"version": 1}).status_code == 409
    assert team.coder.delete(f"{MEMOS}/{memo_id}", params={"version": 2}).status_code == 204
    assert team.coder.get(MEMOS).json() == []
    history = team.coder.get(f"{MEMOS}/{memo_id}/history").json()
    assert [v["memo"]["deleted"] for v in history] == [False, False, True]


def test_blind_coding_hides_other_coders_journal_entries_and_coding_memos(team: Team) -> None:
    coding = next(c for c in team.owner.get("/projects/study/codings").json() if c["coder"] == "olga")
    write(team.owner, kind="journal", text="The owner's reflexive note.")
    write(team.owner, kind="coding", subject=coding["decision_id"], text="Why the owner coded this.")
    write(team.owner, kind="project", text="Shared aims.")
    seen_by_coder = [v["memo"]["text"] for v in team.coder.get(MEMOS).json()]
    assert seen_by_coder == ["Shared aims."]
    assert len(team.owner.get(MEMOS).json()) == 3
    hidden = team.owner.get(MEMOS, params={"kind": "journal"}).json()[0]["memo"]["memo_id"]
    assert team.coder.get(f"{MEMOS}/{hidden}/history").status_code == 404


def test_the_markdown_export_has_every_section_in_order(team: Team) -> None:
    write(team.owner, kind="journal", title="Day 2", text="Saturation in sight.")
    write(team.owner, kind="project", title="Aims", text="Trust.")
    answer = team.owner.get("/projects/study/memos.md")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/markdown")
    text = answer.text
    assert text.index("## Project memo") < text.index("### Aims") < text.index("## Journal")
    assert "— Day 2" in text and "_olga, " in text and "Saturation in sight." in text


def test_memos_from_the_command_line(
    study_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(study_data))
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, [*args, "-p", "study"])
        assert result.exit_code == 0, result.output
        return result.output

    run("memo", "write", "project", "--text", "First aims.", "--title", "Aims")
    run("memo", "write", "project", "--text", "A second thought.", "--append")
    notes = tmp_path / "journal.md"
    notes.write_text("Coded the Persian interview today.", encoding="utf-8")
    run("memo", "write", "journal", "--file", str(notes))
    listed = run("memo", "list")
    assert "Aims" in listed and "journal" in listed
    memo_id = next(line.split()[1] for line in listed.splitlines() if "project" in line and "Aims" in line)
    shown = run("memo", "show", memo_id, "--history")
    assert "version 1" in shown and "version 2" in shown and "by local-operator" in shown
    assert "First aims.\n\nA second thought." in shown
    out = tmp_path / "memos.md"
    run("memo", "export", "--out", str(out))
    assert "Coded the Persian interview today." in out.read_text(encoding="utf-8")
    run("memo", "delete", memo_id)
    assert "Aims" not in run("memo", "list")
    refused = runner.invoke(cli, ["memo", "write", "code", "No such code", "--text", "x", "-p", "study"])
    assert refused.exit_code == 2 and "no code 'No such code'" in refused.output


def test_a_write_request_becomes_the_next_version_of_the_right_memo() -> None:
    project = next_version(MemoWrite(kind=MemoKind.PROJECT, text="a"), "p1", None, "u1")
    again = next_version(MemoWrite(kind=MemoKind.PROJECT, text="b", version=1), "p1", None, "u2")
    assert project.memo_id == again.memo_id and again.version == 2
    entries = {
        next_version(MemoWrite(kind=MemoKind.JOURNAL, text="x"), "p1", None, "u1").memo_id for _ in "ab"
    }
    assert len(entries) == 2  # every new journal entry is a memo of its own
    with pytest.raises(MemoError, match="named by what it is about"):
        next_version(MemoWrite(kind=MemoKind.CODE, memo_id="m", text="x"), "p1", "c1", "u1")
    with pytest.raises(ValueError, match="is about"):
        Memo(memo_id="m", project_id="p", kind=MemoKind.SOURCE, version=1, author_id="u")


def test_search_and_markdown_of_no_memos() -> None:
    assert matching([], "x") == []
    assert "No memos yet." in memos_markdown("study", [])
    memo = Memo(
        memo_id="m", project_id="p", kind=MemoKind.PROJECT, text="Ünïcode TRUST", version=1, author_id="u"
    )
    assert matching([memo], "trust") == [memo]
    view = MemoView(memo=memo, about="project study", author="ana")
    assert "### Project memo" in memos_markdown("study", [view])
