"""No secret reaches the logs: provider keys, tokens, passwords, the database password; and LLM calls are
measured (latency, tokens per model)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from prometheus_client import REGISTRY

from groundcode.app import open_groundcode
from groundcode.observability import SecretFilter, configure_logging
from groundcode.server import create_app
from groundcode.settings import Settings
from tests.live_server import serve_in_thread
from tests.suggestion.fake_chat_server import FakeChatServer
from tests.suggestion.samples import PAPER, BackendFactory, request_for
from tests.suggestion.test_suggestion_llm import PAPER_ANSWER

PROVIDER_KEY = "sk-provider-key-5f9a2c1e7b"
SERVICE_TOKEN = "service-token-0d3b8e6a"
DB_PASSWORD = "db-password-7c4e1f"
PASSWORD = "correct horse battery staple"


@contextmanager
def capturing_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Every log record at DEBUG, through groundcode's handler configured with ``settings``' secrets."""
    secret_settings = Settings.model_validate(
        {
            **settings.model_dump(),
            "llm_api_key": PROVIDER_KEY,
            "service_token": SERVICE_TOKEN,
            "database_url": f"postgresql+psycopg://groundcode:{DB_PASSWORD}@db.internal/groundcode",
            "log_level": "DEBUG",
        }
    )
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(secret_settings, stream)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_an_llm_call_and_a_login_log_no_secret_and_the_call_is_measured(
    settings: Settings, chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    model = "openai/test-model"
    tokens_before = _sample("groundcode_llm_tokens_total", model=model, kind="prompt")
    calls_before = _sample("groundcode_llm_call_seconds_count", model=model)
    groundcode = open_groundcode(settings)
    try:
        groundcode.accounts.add_user("ana", password=PASSWORD)
    finally:
        groundcode.close()
    app = create_app(settings, run_workers=False)
    # After the app configured logging for itself: capture through the secret-aware handler.
    with capturing_logs(settings) as stream, serve_in_thread(app) as base_url:
        chat_server.then(PAPER_ANSWER)
        await backend_for(api_key=PROVIDER_KEY).suggest([request_for(PAPER)])
        login = httpx.post(
            f"{base_url}/login", data={"username": "ana", "password": PASSWORD}, follow_redirects=False
        )
        session = login.cookies["groundcode_session"]
        assert httpx.get(f"{base_url}/me", cookies={"groundcode_session": session}).status_code == 200
        logging.getLogger("groundcode.test").warning(
            "a careless line: key=%s, Authorization: Bearer %s, password=%s", PROVIDER_KEY, session, PASSWORD
        )

    logged = stream.getvalue()
    assert "chat/completions" in logged  # the call was logged (by the HTTP client), just not its key
    for secret in (PROVIDER_KEY, SERVICE_TOKEN, DB_PASSWORD, PASSWORD, session):
        assert secret not in logged
    assert chat_server.received[0].headers["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert _sample("groundcode_llm_tokens_total", model=model, kind="prompt") == tokens_before + 120
    assert _sample("groundcode_llm_call_seconds_count", model=model) == calls_before + 1


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("Authorization: Bearer gc_abcdefghijklmnop", "Authorization: Bearer ***"),
        ("token gc_abcdefghijklmnopqrstuv issued", "token gc_*** issued"),
        ("postgresql://user:hunter2@db/groundcode", "postgresql://user:***@db/groundcode"),
        ("calling with api_key='sk-abcdefghijkl'", "calling with api_key='***'"),
        ("password=hunter2 rejected", "password=*** rejected"),
        ("the configured my-service-secret leaked", "the configured *** leaked"),
    ],
)
def test_secret_shapes_are_masked(line: str, shown: str) -> None:
    assert SecretFilter(["my-service-secret"]).mask(line) == shown
