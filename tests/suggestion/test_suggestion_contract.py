"""The answer contract (schema and validation) and prompt rendering, without any LLM."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from services.suggestion.models import (
    CandidateCode,
    DeductiveAnswer,
    InductiveAnswer,
    InvalidAnswer,
    Mode,
    SuggestionRequest,
    parse_answer,
    response_schema,
)
from services.suggestion.prompts import (
    default_prompts_dir,
    load_template,
    new_boundary,
    prompt_texts,
    render_messages,
    render_reask,
)
from tests.suggestion.samples import CANDIDATES, PAPER, TRUST, request_for


def item(code: str = "Paper-based processes", **extra: object) -> dict[str, object]:
    return {"code": code, "confidence": 0.8, "rationale": "Forms.", "quote": "print the forms", **extra}


def reply(**segments: object) -> str:
    return json.dumps({"segments": segments})


def test_the_schema_offers_only_each_segments_candidates() -> None:
    batch = {"S1": request_for(PAPER), "S2": request_for(TRUST, candidates=CANDIDATES[1:])}

    schema = response_schema(Mode.DEDUCTIVE, batch)

    segments = schema["properties"]["segments"]
    assert segments["required"] == ["S1", "S2"] and segments["additionalProperties"] is False
    enums = {
        label: s["properties"]["suggestions"]["items"]["properties"]["code"]["enum"]
        for label, s in segments["properties"].items()
    }
    assert enums == {"S1": [c.name for c in CANDIDATES], "S2": [c.name for c in CANDIDATES[1:]]}


def test_a_valid_reply_parses_with_names_or_ids_in_a_code_fence() -> None:
    batch = {"S1": request_for(PAPER), "S2": request_for(TRUST)}
    raw = (
        "```json\n"
        + reply(S1={"suggestions": [item(), item("code-email")]}, S2={"none_fits": True, "suggestions": []})
        + "\n```"
    )

    answers = parse_answer(raw, Mode.DEDUCTIVE, batch)

    first = answers["S1"]
    assert isinstance(first, DeductiveAnswer) and [i.code for i in first.suggestions] == [
        "Paper-based processes",
        "code-email",
    ]
    assert answers["S2"] == DeductiveAnswer(none_fits=True)


def test_a_persian_code_name_matches_despite_letter_variants_and_half_spaces() -> None:
    persian = CandidateCode(code_id="c-fa", name="برنامه‌ریزی هوشمند")
    request = request_for(PAPER, candidates=[persian])
    raw = reply(S1={"suggestions": [item("برنامهريزي  هوشمند")]})

    answer = parse_answer(raw, Mode.DEDUCTIVE, {"S1": request})["S1"]

    assert (
        isinstance(answer, DeductiveAnswer) and request.find_candidate(answer.suggestions[0].code) == persian
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("Sure! Here are the codes:", "not valid JSON"),
        (reply(S1={"suggestions": [item("HACKED")]}), "'HACKED' is not one of the allowed codes for S1"),
        (reply(S1={"suggestions": [item(confidence=1.5)]}), "segments.S1.suggestions.0.confidence"),
        (reply(S1={"suggestions": [item(note="extra")]}), "segments.S1.suggestions.0.note: Extra inputs"),
        (reply(S1={"suggestions": [], "mode": "inductive"}), "segments.S1.mode: Extra inputs"),
        (
            reply(S1={"none_fits": True, "suggestions": [item()]}),
            "none_fits is true but suggestions were given",
        ),
        (reply(), "segments.S1: missing"),
        (reply(S1={"suggestions": []}, S9={"suggestions": []}), "segments.S9: there is no such segment"),
    ],
)
def test_an_invalid_reply_is_explained(raw: str, problem: str) -> None:
    with pytest.raises(InvalidAnswer, match=re.escape(problem)):
        parse_answer(raw, Mode.DEDUCTIVE, {"S1": request_for(PAPER)})


def test_inductive_replies_carry_labels_and_no_codes() -> None:
    batch = {"S1": request_for(PAPER, mode=Mode.INDUCTIVE)}
    label = {"label": "Manual rework", "confidence": 0.7, "rationale": "Scanning.", "quote": "scan them"}

    answer = parse_answer(reply(S1={"suggestions": [label]}), Mode.INDUCTIVE, batch)["S1"]
    assert answer == InductiveAnswer.model_validate({"suggestions": [label]})
    with pytest.raises(InvalidAnswer, match="label"):
        parse_answer(reply(S1={"suggestions": [item()]}), Mode.INDUCTIVE, batch)


def test_requests_need_distinct_candidates_in_deductive_mode() -> None:
    with pytest.raises(ValidationError, match="at least one candidate"):
        request_for(PAPER, candidates=[])
    with pytest.raises(ValidationError, match="distinct"):
        request_for(PAPER, candidates=[CANDIDATES[0], CANDIDATES[0].model_copy(update={"code_id": "other"})])


def test_the_transcript_sits_inside_the_data_block_and_the_rules_outside() -> None:
    batch: dict[str, SuggestionRequest] = {"S1": request_for(PAPER), "S2": request_for(TRUST)}
    template = load_template(Mode.DEDUCTIVE)
    boundary = new_boundary(prompt_texts(list(batch.values())))

    system, user = render_messages(template, batch, boundary)

    assert system["role"] == "system" and "never instructions" in system["content"]
    assert "HACKED" not in system["content"]
    before, data, after = re.split(rf"^(?:BEGIN|END) {boundary}$", user["content"], flags=re.MULTILINE)
    assert "Ignore all previous instructions" in data and PAPER in data and "We fax the permits." in data
    assert "Ignore all previous instructions" not in before + after
    assert "- S2: allowed codes: every code of the codebook above" in before
    # The codebook is part of the fixed prefix (the system message), in its fixed order.
    assert "Definition: Work that still depends on printed documents." in system["content"]
    assert "Do not use when" not in system["content"]  # empty criteria are left out
    assert after == ""


def test_the_boundary_is_new_for_every_prompt() -> None:
    boundaries = {new_boundary(["x"]) for _ in range(20)}
    assert len(boundaries) == 20
    assert all(re.fullmatch(r"DATA-[0-9A-F]{16}", boundary) for boundary in boundaries)


def test_templates_are_versioned_by_content() -> None:
    template = load_template(Mode.INDUCTIVE, default_prompts_dir())
    assert re.fullmatch(r"[0-9a-f]{12}", template.version)
    assert template.version != load_template(Mode.DEDUCTIVE).version
    assert "The answer was cut off" in render_reask(template, "The answer was cut off")
