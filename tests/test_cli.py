"""The command line, end to end on the embedded default (SQLite file + in-process queue)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.cli import app
from groundcode.domain import Source, Stage, content_hash
from groundcode.settings import Settings
from groundcode.storage.tables import SourceRow
from tests.live_server import free_port, serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer, auto_reply

runner = CliRunner()

TRANSCRIPT = "Interviewer: Where do you start?\nP1: With the budget. Then the law.\n"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    variables = {"GROUNDCODE_DATA_DIR": str(tmp_path / "data"), "GROUNDCODE_MAX_ATTEMPTS": "1"}
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return variables


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_demo_imports_the_bundled_samples_and_shows_segments(env: dict[str, str]) -> None:
    code, output = run("demo")
    assert code == 0, output
    assert "interview_01_en.txt" in output and "interview_02_fa.txt" in output
    assert "Interviewer" in output and "مصاحبه‌گر" in output
    assert "Codebook codebook: 12 codes" in output
    summary = re.search(r"(\d+) segments, (\d+) suggestions", output)
    assert summary and int(summary[1]) > 100 and int(summary[2]) > 100, output
    assert "Most suggested codes" in output and "Budget constraints" in output
    assert "groundcode suggestions interview_01_en.txt -p demo" in output


def test_import_reports_each_file_and_a_bad_one_does_not_stop_the_rest(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "one.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (tmp_path / "empty.md").write_text("  \n", encoding="utf-8")
    (tmp_path / "book.yaml").write_text("- name: Budget\n- name: Law\n  parent: Budget\n", encoding="utf-8")
    code, output = run(
        "import", "one.txt", "empty.md", "missing.txt", "--codebook", "book.yaml", "--unit", "turn"
    )
    assert code == 1
    assert "imported one.txt" in output
    assert "empty.md:" in output and "missing.txt: cannot read the file" in output
    assert "Codebook book: 2 codes (version 1)" in output
    code, output = run("segments", "one.txt")
    assert code == 0
    assert "With the budget. Then the law." in output
    code, output = run("import", "one.txt")
    assert code == 0 and "already imported one.txt" in output


def test_bad_codebook_is_refused_with_its_name(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("- name: A\n  parent: Nope\n", encoding="utf-8")
    code, output = run("import", "--codebook", "book.yaml")
    assert code == 1
    assert "book.yaml: codes[1]: parent 'Nope' is not a code in this codebook" in output


def test_failed_work_is_visible_in_status_and_retry_completes_it(env: dict[str, str]) -> None:
    # A source whose stored chunking options are broken (as after a bad manual edit) and its queued work.
    groundcode = open_groundcode(Settings())
    project = groundcode.repository.ensure_project("default")
    text = "Interviewer: Why?\nP1: Because."
    source, _ = groundcode.repository.add_source(
        Source(
            project_id=project.id,
            name="broken.txt",
            format="txt",
            text=text,
            content_hash=content_hash(text),
            metadata={"chunking": {"unit": "chapter"}},
        )
    )
    groundcode.work_items.ensure(Stage.CHUNK, source.id)
    code, output = run("worker", "--exit-when-idle")
    assert code == 0, output
    code, output = run("status")
    assert "failed chunk" in output and "unit" in output and "after 1 attempts" in output
    with groundcode.engine.begin() as connection:
        connection.execute(update(SourceRow).values(metadata={"chunking": {"unit": "turn"}}))
    groundcode.close()
    code, output = run("retry")
    assert code == 0 and "Retrying 1 failed or abandoned work items" in output
    code, output = run("status")
    assert "failed chunk" not in output  # no failure listed any more
    code, output = run("segments", "broken.txt")
    assert "Because." in output


def test_segments_of_an_unknown_project_is_a_clear_error(env: dict[str, str]) -> None:
    assert run("init", "-p", "study")[0] == 0
    code, output = run("segments", "-p", "nobody")
    assert code == 1
    assert "no project named 'nobody'" in output and "'study'" in output


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("projects",),
        ("sources",),
        ("segments",),
        ("user", "list"),
        ("export", "codings", "--out", "codings.csv"),
        ("project", "export", "--out", "study.qdpx"),
        ("codebook", "export", "study", "--out", "codebook.qdc"),
    ],
)
def test_a_command_that_only_reads_leaves_no_database_behind_and_says_where_it_looked(
    env: dict[str, str], tmp_path: Path, command: tuple[str, ...]
) -> None:
    code, output = run(*command)
    assert code != 0
    assert "no groundcode database at" in " ".join(output.split())
    assert not (tmp_path / "data").exists()


def test_an_import_into_a_mistyped_project_is_refused_unless_created(
    env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "one.txt").write_text(TRANSCRIPT, encoding="utf-8")
    assert run("import", str(tmp_path / "one.txt"), "-p", "my-study")[0] == 0  # the first project: made
    code, output = run("import", str(tmp_path / "one.txt"), "-p", "my-studdy")
    assert code == 1 and "no project named 'my-studdy'" in output and "'my-study'" in output
    assert "--create" in output
    assert "my-studdy" not in run("projects")[1]
    assert run("import", str(tmp_path / "one.txt"), "-p", "second", "--create")[0] == 0
    assert "second" in run("projects")[1]


def test_projects_are_listed_and_a_mistyped_name_says_which_there_are(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert run("user", "add", "ana", "--password", "long enough")[0] == 0
    assert "No projects yet" in run("projects")[1]
    (tmp_path / "one.txt").write_text(TRANSCRIPT, encoding="utf-8")
    assert run("import", "one.txt", "-p", "my-study")[0] == 0
    assert run("init", "-p", "pilot")[0] == 0
    code, output = run("projects")
    assert code == 0 and "my-study" in output and "pilot" in output
    code, output = run("sources", "-p", "my-studdy")
    assert code == 1 and "the projects here are 'my-study', 'pilot'" in " ".join(output.split())


def import_budget_and_trust(directory: Path) -> None:
    """Import a four-turn transcript and a two-code codebook (``groundcode import ... --unit turn``)."""
    (directory / "one.txt").write_text(
        "Interviewer: What holds you back?\n"
        "P1: The budget was cut again this year.\n\n"
        "Interviewer: And the citizens?\n"
        "P1: Nobody trusts the new portal.\n",
        encoding="utf-8",
    )
    (directory / "book.yaml").write_text(
        "- name: Budget constraints\n  definition: Lack of money for digital projects\n"
        "- name: Trust\n  definition: Confidence of citizens in institutions and systems\n",
        encoding="utf-8",
    )
    code, output = run("import", "one.txt", "--codebook", "book.yaml", "--unit", "turn")
    assert code == 0, output


def test_suggest_again_with_other_options_and_list_the_suggestions(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # table cells on one line each
    import_budget_and_trust(tmp_path)
    code, output = run("suggestions", "one.txt")
    assert code == 0 and "Budget constraints" in output and "offline" in output
    assert "The budget was cut again this year." in output
    assert "new:" not in output  # deductive only, by default

    code, output = run("suggest", "one.txt", "--mode", "both")
    assert code == 0, output
    assert "suggestions for 1 source(s) (both, offline backend)" in output
    assert "weaker than an LLM" in output
    code, output = run("suggestions", "one.txt")
    assert "new: " in output and "Trust" in output and "weaker than an LLM" in output

    code, output = run("suggest", "nobody.txt")
    assert code == 1 and "no source named or identified by 'nobody.txt'" in output


def test_suggest_with_a_model_asks_it_once_per_segment(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeChatServer(responder=auto_reply)
    with serve_in_thread(server.app()) as base_url:
        monkeypatch.setenv("GROUNDCODE_LLM_API_BASE", base_url + "/v1")
        monkeypatch.setenv("GROUNDCODE_LLM_API_KEY", "test")
        import_budget_and_trust(tmp_path)
        code, output = run("suggest", "one.txt", "--model", "openai/test-model")
        assert code == 0, output
        assert "2 suggestions for 1 source(s) (deductive, llm backend)" in output  # not the interviewer's
        assert len(server.received) == 2
        code, output = run("suggest", "--model", "openai/test-model")  # answered from the cache
        assert code == 0 and len(server.received) == 2
    code, output = run("suggestions", "one.txt")
    assert "litellm" in output and "offline" in output  # each backend keeps its own suggestions


@pytest.mark.parametrize("name", ["chunking", "retrieval", "suggestion"])
def test_each_service_runs_alone_and_answers_health(env: dict[str, str], name: str) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "groundcode", "service", name, "--port", str(port), "--no-workers"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, f"groundcode service {name} exited"
                assert time.monotonic() < deadline, f"groundcode service {name} did not start"
                time.sleep(0.2)
        assert response.json() == {"status": "ready"}
        openapi = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert openapi["info"]["title"] == f"groundcode {name} service"
    finally:
        process.terminate()
        process.wait(20)


def test_with_consent_to_a_remote_model_listed_names_are_masked(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeChatServer(responder=auto_reply)
    with serve_in_thread(server.app()) as base_url:
        monkeypatch.setenv("GROUNDCODE_LLM_API_BASE", base_url + "/v1")
        monkeypatch.setenv("GROUNDCODE_LLM_API_KEY", "test")
        monkeypatch.setenv("GROUNDCODE_LLM_ALLOW_REMOTE", "true")
        monkeypatch.setenv("GROUNDCODE_LLM_REDACT_NAMES", '["portal"]')
        import_budget_and_trust(tmp_path)
        code, output = run("suggest", "one.txt", "--model", "openai/test-model")
        assert code == 0, output
    sent = json.dumps([received.body for received in server.received], ensure_ascii=False)
    assert "portal" not in sent and "[NAME]" in sent


def test_search_candidates_and_similar_after_import(env: dict[str, str], tmp_path: Path) -> None:
    import_budget_and_trust(tmp_path)
    nobody_trusts_the_system = "کسی به سامانه اعتماد ندارد"
    code, output = run("search", nobody_trusts_the_system, "-k", "1")
    assert code == 0 and "Nobody trusts the new portal." in output
    code, output = run("candidates", "one.txt", "1", "-k", "1")
    assert code == 0 and "Budget constraints" in output
    code, output = run("similar", "one.txt", "1")
    assert code == 0 and "No coded segments yet" in output
    code, output = run("candidates", "one.txt", "99")
    assert code == 1 and "one.txt has no segment number 99" in output
