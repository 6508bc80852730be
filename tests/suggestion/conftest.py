"""Suggestion fixtures: a scripted chat server reached through litellm's real client, and backends on it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from services.retrieval.embeddings import LocalE5Embedder
from services.suggestion.cache import InMemoryResponseCache, ResponseCache
from services.suggestion.llm import LiteLLMBackend, LiteLLMConfig
from services.suggestion.redaction import Redactor
from tests.live_server import serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer
from tests.suggestion.samples import BackendFactory


@pytest.fixture
def chat_server() -> Iterator[FakeChatServer]:
    server = FakeChatServer()
    with serve_in_thread(server.app()) as base_url:
        server.url = base_url + "/v1"
        yield server


@pytest.fixture
def backend_for(chat_server: FakeChatServer) -> BackendFactory:
    """Builds a LiteLLMBackend on the scripted server: fast backoff, short timeout, in-memory cache."""

    def build(
        *, cache: ResponseCache | None = None, redactor: Redactor | None = None, **overrides: Any
    ) -> LiteLLMBackend:
        config = {
            "model": "openai/test-model",
            "api_base": chat_server.url,
            "api_key": "test",
            "timeout_seconds": 5.0,
            "max_retries": 3,
            "retry_initial_seconds": 0.01,
            "retry_max_seconds": 0.05,
            **overrides,
        }
        return LiteLLMBackend(
            LiteLLMConfig.model_validate(config),
            cache=cache if cache is not None else InMemoryResponseCache(),
            redactor=redactor,
        )

    return build


@pytest.fixture(scope="session")
def e5() -> LocalE5Embedder:
    """The bundled multilingual E5 model, loaded once (the offline backend's only model)."""
    return LocalE5Embedder()
