"""Naming axial-coding groups with a language model, through litellm's real client and a scripted server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from groundcode.domain import Code
from services.analysis.axial import AxialOptions, AxialProposal, ProposedGroup
from services.analysis.naming import name_groups
from services.suggestion.llm import LiteLLMBackend, LiteLLMConfig
from tests.live_server import serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer, Reply

CODES = [
    Code(id="budget", name="Budget cuts", definition="Money for projects is reduced."),
    Code(id="funding", name="No maintenance funding"),
    Code(id="trust", name="Distrust of the portal"),
]


@pytest.fixture
def server() -> Iterator[FakeChatServer]:
    chat = FakeChatServer()
    with serve_in_thread(chat.app()) as base_url:
        chat.url = base_url + "/v1"
        yield chat


def model_on(server: FakeChatServer) -> LiteLLMBackend:
    config = LiteLLMConfig(model="openai/test-model", api_base=server.url, timeout_seconds=5.0)
    return LiteLLMBackend(config)


def proposal() -> AxialProposal:
    groups = [
        ProposedGroup(
            name="Budget cuts",
            medoid_code_id="budget",
            code_ids=["budget", "funding"],
            code_names=["Budget cuts", "No maintenance funding"],
            spread=0.1,
        ),
        ProposedGroup(
            name="Distrust of the portal",
            medoid_code_id="trust",
            code_ids=["trust"],
            code_names=["Distrust of the portal"],
            spread=0.0,
        ),
    ]
    return AxialProposal(
        codebook_id="cb",
        codebook_version=1,
        codes=3,
        groups=groups,
        options=AxialOptions(),
        chosen_groups=2,
        silhouette=None,
    )


def names(*entries: tuple[int, str]) -> Reply:
    groups = [
        {"group": number, "name": name, "definition": f"About {name.lower()}."} for number, name in entries
    ]
    return Reply(content=json.dumps({"groups": groups}))


def test_the_model_names_and_defines_each_group(server: FakeChatServer) -> None:
    server.then(names((1, "Funding"), (2, "Trust in e-services")))
    named = asyncio.run(name_groups(model_on(server), proposal(), CODES))
    assert [(g.name, g.definition) for g in named.groups] == [
        ("Funding", "About funding."),
        ("Trust in e-services", "About trust in e-services."),
    ]
    assert named.naming.startswith("llm openai/test-model (prompt group-naming ")
    prompt = server.received[0].user
    assert "## Group 1" in prompt and "Budget cuts: Money for projects is reduced." in prompt


def test_an_invalid_answer_is_asked_again_with_the_error(server: FakeChatServer) -> None:
    server.then(Reply(content="not json"), names((1, "Funding")), names((1, "Funding"), (2, "Trust")))
    named = asyncio.run(name_groups(model_on(server), proposal(), CODES))
    assert [g.name for g in named.groups] == ["Funding", "Trust"]
    assert len(server.received) == 3
    assert "expected one entry for each group 1-2" in server.received[2].body["messages"][-1]["content"]


def test_offline_names_stay_when_the_model_never_answers_validly(server: FakeChatServer) -> None:
    server.then(*[Reply(content="[]")] * 3)
    named = asyncio.run(name_groups(model_on(server), proposal(), CODES, max_reasks=2))
    assert [g.name for g in named.groups] == ["Budget cuts", "Distrust of the portal"]
    assert "the model's names were invalid" in named.naming
