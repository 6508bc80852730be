"""The SQL response cache (migration 0002) on SQLite and PostgreSQL, and through the backend."""

from __future__ import annotations

from sqlalchemy import Engine

from groundcode.domain import utcnow
from groundcode.storage.database import session_factory
from services.suggestion.cache import SQLResponseCache, cache_key
from services.suggestion.models import CachedAnswer, CallRecord, Mode
from tests.suggestion.fake_chat_server import FakeChatServer, auto_reply
from tests.suggestion.samples import PAPER, BackendFactory, request_for


def entry(segment_id: str, rationale: str) -> CachedAnswer:
    item = {"code": "code-paper", "confidence": 0.5, "rationale": rationale, "quote": "forms"}
    call = CallRecord(
        resolved_model="m-1",
        usage={"prompt_tokens": 3},
        cost_usd=None,
        latency_ms=1.0,
        http_calls=1,
        reasks=0,
        batch_size=1,
        answered_at=utcnow(),
    )
    return CachedAnswer(
        segment_id=segment_id,
        model="m",
        mode=Mode.DEDUCTIVE,
        answer={"none_fits": False, "suggestions": [item]},
        call=call,
    )


def test_the_first_answer_stored_under_a_key_wins(engine: Engine) -> None:
    cache = SQLResponseCache(session_factory(engine))
    first, second = entry("seg-1", "first"), entry("seg-1", "second")

    assert cache.get("k") is None
    cache.put("k", first)
    cache.put("k", second)  # a second worker answering the same redelivered item

    assert cache.get("k") == first


def test_the_key_ignores_retrieval_scores_but_not_what_the_model_sees() -> None:
    request = request_for(PAPER)
    key = cache_key(request, model="m", prompt_version="v1", temperature=0.0)
    rescored = request.model_copy(
        update={"candidates": [c.model_copy(update={"score": 0.1}) for c in request.candidates]}
    )

    assert cache_key(rescored, model="m", prompt_version="v1", temperature=0.0) == key
    assert cache_key(request, model="m", prompt_version="v2", temperature=0.0) != key
    assert cache_key(request, model="m", prompt_version="v1", temperature=0.7) != key
    assert (
        cache_key(
            request.model_copy(update={"context_after": "And?"}),
            model="m",
            prompt_version="v1",
            temperature=0.0,
        )
        != key
    )


async def test_a_redelivered_segment_is_answered_from_the_database(
    engine: Engine, chat_server: FakeChatServer, backend_for: BackendFactory
) -> None:
    chat_server.responder = auto_reply
    request = request_for(PAPER)

    [first] = await backend_for(cache=SQLResponseCache(session_factory(engine))).suggest([request])
    [again] = await backend_for(cache=SQLResponseCache(session_factory(engine))).suggest([request])

    assert len(chat_server.received) == 1
    assert again.cache_hit and [s.code_id for s in again.suggestions] == [
        s.code_id for s in first.suggestions
    ]
