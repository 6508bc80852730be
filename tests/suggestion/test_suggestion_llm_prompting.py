"""How the litellm backend asks (prompt order and content, variants, batching, the coder's examples,
samples) and how it fails (one segment alone, max_tokens), against the scripted server through litellm."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from groundcode.domain import Decision, DecisionKind
from services.suggestion.feedback import coder_feedback
from services.suggestion.llm import SuggestionFailed
from services.suggestion.models import CandidateCode, FeedbackExample, PromptVariant
from services.suggestion.prompts import shared_prefix_share
from tests.suggestion.fake_chat_server import FakeChatServer, Reply, answer, auto_reply
from tests.suggestion.samples import CANDIDATES, PAPER, SOURCE, TRUST, BackendFactory, request_for

RUNAWAY = Reply(
    content='{"segments": {"S1": {"none_fits": false, "suggestions": [{"rationale": "a a a a',
    finish_reason="length",
)


def item_schema(body: dict[str, Any], label: str = "S1") -> dict[str, Any]:
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["segments"]["properties"][label]
    return dict(schema["properties"]["suggestions"]["items"])


def by_segment(body: dict[str, Any]) -> dict[str, str]:
    """Which segment text the prompt shows under each label."""
    user = body["messages"][1]["content"]
    return {
        label: user.split(f"--- segment {label} (code this)\n")[1].split("\n")[0] for label in ("S1", "S2")
    }


async def test_reasoning_comes_before_the_code_and_the_codebook_is_whole_with_examples(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = auto_reply
    codebook = [
        *CANDIDATES,
        CandidateCode(
            code_id="code-fax",
            name="Fax",
            definition="Documents sent by fax.",
            exclusion="e-mail",
            examples=["We still fax the permits."],
        ),
    ]
    request = request_for(PAPER, candidates=CANDIDATES[:1], codebook=codebook)

    await backend_for().suggest([request])

    [sent] = chat_server.received
    assert list(item_schema(sent.body)["properties"]) == ["rationale", "code", "quote", "confidence"]
    # The whole codebook fits the budget: a code retrieval missed ("Fax") can still be chosen.
    assert item_schema(sent.body)["properties"]["code"]["enum"] == [code.name for code in codebook]
    system = sent.system
    for part in ("### Fax", "Definition: Documents sent by fax.", "Do not use when: e-mail"):
        assert part in system
    assert "Example: We still fax the permits." in system
    assert "Use when: printing, scanning, physical signatures" in system
    assert system.index('"rationale"') < system.index('"code"') < system.index('"quote"')
    # The segment comes last, after its context.
    assert [line for line in sent.user.splitlines() if line][-2] == PAPER


async def test_over_the_token_budget_the_shortlist_is_offered(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = auto_reply
    request = request_for(PAPER, candidates=CANDIDATES[:2], codebook=CANDIDATES)

    await backend_for(codebook_token_budget=10).suggest([request])

    enum = item_schema(chat_server.received[0].body)["properties"]["code"]["enum"]
    assert enum == ["Paper-based processes", "Distrust of data"]


async def test_label_first_keeps_the_former_order(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = auto_reply

    [result] = await backend_for(prompt_variant=PromptVariant.LABEL_FIRST).suggest([request_for(PAPER)])

    sent = chat_server.received[0]
    assert list(item_schema(sent.body)["properties"]) == ["code", "confidence", "rationale", "quote"]
    assert result.suggestions[0].provenance["prompt_template"] == "deductive_label_first"


async def test_per_code_mode_decides_every_code_and_keeps_those_that_apply(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    decisions = {
        "Paper-based processes": {"rationale": "Forms.", "applies": True, "quote": "print the forms"},
        "Distrust of data": {"rationale": "No doubt voiced.", "applies": False, "quote": ""},
    }
    complete = {
        **decisions,
        "Email as channel": {"rationale": "Email.", "applies": True, "quote": "by email"},
    }
    chat_server.then(answer({"S1": {"codes": decisions}}), answer({"S1": {"codes": complete}}))

    [result] = await backend_for(prompt_variant=PromptVariant.PER_CODE).suggest([request_for(PAPER)])

    first, reask = chat_server.received
    schema = first.body["response_format"]["json_schema"]["schema"]["properties"]["segments"]["properties"]
    codes = schema["S1"]["properties"]["codes"]
    assert codes["required"] == [c.name for c in CANDIDATES]
    assert list(codes["properties"]["Email as channel"]["properties"]) == ["rationale", "applies", "quote"]
    assert "no decision on 'Email as channel'" in reask.body["messages"][-1]["content"]
    assert [s.code_id for s in result.suggestions] == ["code-paper", "code-email"]
    assert result.suggestions[0].provenance["prompt_variant"] == "per_code"


async def test_several_segments_per_call_without_cross_talk(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    # S1's answer quotes S2's text: never grounded in S1, whatever the batch.
    crossed = {"rationale": "Doubt.", "code": "Distrust of data", "quote": "nobody believes the numbers"}
    own = {"rationale": "Forms.", "code": "Paper-based processes", "quote": "print the forms"}
    trust = {"rationale": "Doubt.", "code": "Distrust of data", "quote": "nobody believes the numbers"}
    chat_server.then(
        answer(
            {
                "S1": {"none_fits": False, "suggestions": [own, crossed]},
                "S2": {"none_fits": False, "suggestions": [trust]},
            }
        )
    )
    requests = [request_for(PAPER), request_for(TRUST)]

    paper, distrust = await backend_for(batch_size=2).suggest(requests)

    [sent] = chat_server.received
    assert by_segment(sent.body) == {"S1": PAPER, "S2": TRUST}
    assert sent.body["max_tokens"] == 2 * 768
    assert [s.code_id for s in paper.suggestions] == ["code-paper"] and paper.dropped == {
        "quote_not_found": 1
    }
    assert [s.code_id for s in distrust.suggestions] == ["code-trust"]
    assert SOURCE[distrust.suggestions[0].quote_start :].startswith("nobody believes")


async def test_a_segment_whose_answer_stays_invalid_fails_alone(
    chat_server: FakeChatServer, backend_for: BackendFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Run against Qwen2.5-Coder-1.5B, 8 of 113 runaway answers failed the whole source's suggest stage.
    requests = [request_for(PAPER), request_for(TRUST)]

    def script(body: dict[str, Any]) -> Reply:
        shown = body["messages"][1]["content"]
        return RUNAWAY if TRUST in shown else auto_reply(body)

    chat_server.responder = script

    paper, trust = await backend_for(batch_size=2, max_reasks=1, max_tokens=64).suggest(requests)

    assert [s.code_id for s in paper.suggestions] == ["code-paper"] and paper.failure is None
    assert trust.suggestions == [] and trust.failure and "cut off at 64 tokens" in trust.failure
    # the pair (2 calls: one re-ask), then each alone: PAPER once, TRUST twice
    assert len(chat_server.received) == 5
    assert all(call.body["max_tokens"] in (64, 128) for call in chat_server.received)
    assert f"no usable LLM answer for segment {trust.segment_id}" in caplog.text


async def test_when_every_segment_fails_the_work_item_fails(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = lambda body: RUNAWAY

    with pytest.raises(SuggestionFailed, match="cut off"):
        await backend_for(max_reasks=0).suggest([request_for(PAPER), request_for(TRUST)])


async def test_an_unreachable_provider_still_fails_the_work_item(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = lambda body: (
        auto_reply(body) if PAPER in body["messages"][1]["content"] else Reply(status=503)
    )

    with pytest.raises(SuggestionFailed, match="gave up after 2 call") as failure:
        await backend_for(max_retries=1).suggest([request_for(PAPER), request_for(TRUST)])

    assert failure.value.transient


async def test_consecutive_calls_share_a_long_prompt_prefix(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    # Before: the codebook in each segment's candidate order, ~365 of ~2,450 prompt tokens reused.
    chat_server.responder = auto_reply
    feedback = [FeedbackExample(text="We fax the permits.", code_name="Paper-based processes", accepted=True)]
    requests = [
        request_for(PAPER, candidates=CANDIDATES, codebook=CANDIDATES, feedback=feedback),
        request_for(TRUST, candidates=CANDIDATES[::-1], codebook=CANDIDATES, feedback=feedback),
    ]

    await backend_for(concurrency=1).suggest(requests)

    first, second = (call.body["messages"] for call in chat_server.received)
    assert first[0] == second[0]  # rules and codebook: identical
    share = shared_prefix_share(first, second)
    assert share > 0.75, share
    print(f"shared prompt prefix: {share:.0%} of the second call's characters")


async def test_the_coders_own_decisions_are_examples_and_nobody_elses(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)

    def decision(coder: str, kind: DecisionKind, segment: str, minutes: int, **fields: Any) -> Decision:
        return Decision(
            project_id="p",
            coder_id=coder,
            kind=kind,
            segment_id=segment,
            source_id="src",
            suggestion_id=f"sug-{segment}-{coder}",
            decided_at=at + timedelta(minutes=minutes),
            **fields,
        )

    asked = request_for(PAPER)
    decisions = [
        decision("ana", DecisionKind.ACCEPT, "s1", 1, code_id="code-paper", start=0, end=5),
        decision(
            "ana",
            DecisionKind.REJECT,
            "s2",
            2,
            reason="wrong_code",
            note="a complaint, not doubt",
            suggestion={"code_id": "code-trust"},
        ),
        decision("bob", DecisionKind.ACCEPT, "s3", 3, code_id="code-trust", start=0, end=5),
        decision("ana", DecisionKind.ACCEPT, asked.segment_id, 4, code_id="code-paper", start=0, end=5),
    ]
    texts = {
        "s1": "We fax the permits.",
        "s2": "The portal is slow.",
        "s3": "BOB-ONLY",
        asked.segment_id: PAPER,
    }
    names = {c.code_id: c.name for c in CANDIDATES}
    feedback = coder_feedback(decisions, "ana", segment_texts=texts, code_names=names, limit=5)
    everyone = coder_feedback(decisions, None, segment_texts=texts, code_names=names, limit=5)
    assert len(feedback) == 3 and "BOB-ONLY" in [example.text for example in everyone]
    chat_server.responder = auto_reply

    # The decision on the segment asked about is among the coder's examples, but no prompt shows it.
    await backend_for().suggest([asked.model_copy(update={"feedback": feedback})])

    user = chat_server.received[0].user
    examples = user.split("## Segments to code")[0]
    assert (
        '* "The portal is slow." -> Distrust of data: rejected (wrong code; a complaint, not doubt)'
        in examples
    )
    assert '* "We fax the permits." -> Paper-based processes: accepted' in examples
    assert "BOB-ONLY" not in user and examples.count(PAPER) == 0
    assert examples.index("The portal is slow.") < examples.index("We fax the permits.")  # latest first


async def test_confidence_is_the_agreement_of_samples(
    chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    paper = {
        "rationale": "Forms.",
        "code": "Paper-based processes",
        "quote": "print the forms",
        "confidence": 0.8,
    }
    email = {"rationale": "Email.", "code": "Email as channel", "quote": "by email", "confidence": 0.8}
    chat_server.then(
        answer({"S1": {"none_fits": False, "suggestions": [paper, email]}}),
        answer({"S1": {"none_fits": False, "suggestions": [paper]}}),
        answer({"S1": {"none_fits": False, "suggestions": [paper]}}),
    )

    [result] = await backend_for(samples=3, concurrency=1).suggest([request_for(PAPER)])

    assert [(s.code_id, round(s.confidence, 2)) for s in result.suggestions] == [
        ("code-paper", 1.0),
        ("code-email", 0.33),
    ]
    assert [call.body["temperature"] for call in chat_server.received] == [0.0, 0.7, 0.7]
    provenance = result.suggestions[1].provenance
    assert provenance["samples"] == 3 and provenance["self_reported_confidence"] == 0.8
    assert provenance["http_calls"] == 3 and provenance["usage"]["prompt_tokens"] == 360


def test_the_scripted_replies_are_json() -> None:
    assert json.loads(RUNAWAY.content + '"}]}}}') is not None  # only cut off, as a length stop leaves it
