"""Through the command line: interviewer questions and front matter get no suggestions from either backend,
survey answers all do, and ``groundcode project set`` changes which speakers are coded."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.cli import app
from groundcode.settings import Settings
from tests.live_server import serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer, auto_reply

INTERVIEW = (
    "Interview 07 - Digital services\n"
    "Duration: 41 minutes.\n\n"
    "Interviewer: What about privacy?\n"
    "P1: Nobody trusts the new portal after the data leak.\n\n"
    "Interviewer: What changed?\n"
    "P1: The budget was cut again this year.\n"
)
SURVEY = "id,answer\nI,The budget is far too small.\nR2,I do not trust the portal.\n"
CODEBOOK = (
    "- name: Budget constraints\n  definition: Lack of money for digital projects\n"
    "- name: Trust\n  definition: Confidence of citizens in institutions and systems\n"
)
runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Project "study": the interview (by turn), the survey and the codebook, suggested offline."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GROUNDCODE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GROUNDCODE_SUGGESTION_MODE", "both")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    (tmp_path / "interview.txt").write_text(INTERVIEW, encoding="utf-8")
    (tmp_path / "survey.csv").write_text(SURVEY, encoding="utf-8")
    (tmp_path / "book.yaml").write_text(CODEBOOK, encoding="utf-8")
    invoke(
        "import", "interview.txt", "survey.csv", "-p", "study", "--codebook", "book.yaml", "--unit", "turn"
    )
    return tmp_path / "data"


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def suggested_texts(data: Path, backend: str = "offline") -> dict[str, set[str]]:
    """Per source, the texts of the segments with suggestions of ``backend``."""
    groundcode = open_groundcode(Settings(data_dir=data))
    try:
        found = {}
        for source in groundcode.repository.list_sources(groundcode.repository.get_project("study").id):
            texts = {s.id: s.text for s in groundcode.repository.list_segments(source.id)}
            suggestions = groundcode.suggestions.list_for_source(source.id)
            found[source.name] = {texts[s.segment_id] for s in suggestions if s.backend == backend}
        return found
    finally:
        groundcode.close()


ANSWERS = {"Nobody trusts the new portal after the data leak.", "The budget was cut again this year."}
SURVEY_ANSWERS = {"The budget is far too small.", "I do not trust the portal."}


def test_interviewer_questions_and_front_matter_get_no_suggestions_survey_answers_all_do(data: Path) -> None:
    assert suggested_texts(data) == {"interview.txt": ANSWERS, "survey.csv": SURVEY_ANSWERS}


def test_a_setting_that_codes_the_interviewer_gets_their_questions_suggested(data: Path) -> None:
    assert "every speaker except interviewers" in invoke("project", "show", "-p", "study")
    output = invoke("project", "set", "-p", "study", "--code-speakers", "Interviewer, P1")
    assert "codes speakers Interviewer, P1" in output
    questions = {"What about privacy?", "What changed?"}
    assert suggested_texts(data)["interview.txt"] == ANSWERS | questions  # never the front matter
    assert "speakers Interviewer, P1" in invoke("project", "show", "-p", "study")

    invoke("project", "set", "-p", "study", "--code-speakers-pattern", r"p\d")
    assert suggested_texts(data)["interview.txt"] == ANSWERS  # the questions' suggestions are removed
    refused = runner.invoke(
        app, ["project", "set", "-p", "study", "--code-all-speakers", "--code-speakers", "P1"]
    )
    assert refused.exit_code == 1 and "exactly one of" in refused.output


def test_the_llm_backend_is_asked_only_about_the_coded_segments(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeChatServer(responder=auto_reply)
    with serve_in_thread(server.app()) as base_url:
        monkeypatch.setenv("GROUNDCODE_LLM_API_BASE", base_url + "/v1")
        monkeypatch.setenv("GROUNDCODE_LLM_API_KEY", "test")
        invoke("suggest", "-p", "study", "--model", "openai/test-model")
    prompts = "\n".join(str(received.body["messages"]) for received in server.received)
    assert "Nobody trusts the new portal" in prompts
    assert suggested_texts(data, "litellm") == {"interview.txt": ANSWERS, "survey.csv": SURVEY_ANSWERS}
