"""``groundcode eval`` end to end: offline, and through litellm against the scripted OpenAI-compatible
server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from groundcode.cli import app
from services.suggestion.models import Mode
from services.suggestion.prompts import load_template
from tests.suggestion.fake_chat_server import FakeChatServer, auto_reply

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_eval_offline_prints_the_scores_and_writes_the_report(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "concept-component", "--limit", "4", "--resamples", "20"])

    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output and "Gwet's AC1" in result.output
    assert "backend offline, model offline-v2" in result.output
    folder = tmp_path / "eval-reports" / "concept-component"
    assert {path.name for path in folder.iterdir()} == {
        "report.md",
        "report.json",
        "confusion.png",
        "per_code_f1.png",
        "reliability.png",
    }
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["scores"]["units"] == 4
    assert report["info"]["options"]["limit"] == 4


def test_eval_with_an_llm_goes_through_litellm_to_an_openai_compatible_server(
    tmp_path: Path, chat_server: FakeChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_server.responder = auto_reply
    monkeypatch.setenv("GROUNDCODE_LLM_API_KEY", "test")
    out = tmp_path / "llm-report"

    result = runner.invoke(
        app,
        [
            "eval",
            "concept-component",
            "--model",
            "openai/test-model",
            "--api-base",
            chat_server.url,
            "--limit",
            "4",
            "--seed",
            "5",
            "--resamples",
            "20",
            "--out",
            str(out),
        ],
    )

    assert result.exit_code == 0, result.output
    assert len(chat_server.received) == 4  # one segment per call
    components = {
        "causal conditions",
        "contextual conditions",
        "intervening conditions",
        "strategies",
        "consequences",
    }
    assert all(set(_offered_codes(received.body)) == components for received in chat_server.received)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    deductive = load_template(Mode.DEDUCTIVE).version
    assert report["info"]["provenance"] == {
        "backend": "llm",
        "model": "openai/test-model",
        "prompt_versions": [deductive],
    }
    # The scripted server answers each segment with the first code it is offered (the closest by retrieval).
    assert report["scores"]["predicted"] == 4
    first_offered = sorted(_offered_codes(received.body)[0] for received in chat_server.received)
    assert sorted(p["ranked"][0] for p in report["predictions"]) == first_offered
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert deductive in markdown
    assert (
        f"--backend llm --model openai/test-model --api-base {chat_server.url} --seed 5 --limit 4" in markdown
    )


def _offered_codes(body: dict[str, Any]) -> list[str]:
    """The codes a request lets the model choose from (the enum of its one segment's answer schema)."""
    schema = body["response_format"]["json_schema"]["schema"]
    (answer,) = schema["properties"]["segments"]["properties"].values()
    codes: list[str] = answer["properties"]["suggestions"]["items"]["properties"]["code"]["enum"]
    return codes
