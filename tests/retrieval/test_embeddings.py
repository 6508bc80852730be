"""The embedders: the bundled E5 model, and litellm against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from groundcode.settings import Settings
from services.retrieval.embeddings import (
    LOCAL_E5_MODEL,
    LiteLLMEmbedder,
    LocalE5Embedder,
    embedder_from_settings,
    matching_views,
)
from tests.live_server import serve_in_thread
from tests.retrieval.support import internet_blocked

TEXTS = [
    "I lost my job when the factory closed.",
    "پارسال وقتی کارخانه تعطیل شد، کارم را از دست دادم.",
    "We moved to a smaller flat.",
    "زمستان‌ها آلودگی هوا زیاد است.",
    "My mother looks after the children.",
]


def test_local_e5_gives_one_unit_vector_per_text_in_order(e5: LocalE5Embedder) -> None:
    small_batches = LocalE5Embedder(batch_size=2)
    vectors = small_batches.embed_passages(TEXTS)
    assert len(vectors) == len(TEXTS) and e5.dimension == 384
    assert all(
        len(vector) == 384 and math.isclose(float(np.linalg.norm(vector)), 1.0, abs_tol=1e-3)
        for vector in vectors
    )
    one_by_one = [e5.embed_passages([text])[0] for text in TEXTS]
    assert np.allclose(vectors, one_by_one, atol=1e-5)
    assert e5.embed_passages([]) == []


def test_queries_and_passages_are_embedded_differently(e5: LocalE5Embedder) -> None:
    (query,) = e5.embed_queries([TEXTS[0]])
    (passage,) = e5.embed_passages([TEXTS[0]])
    assert not np.allclose(query, passage, atol=1e-3)


def test_persian_spelling_variants_get_the_same_vector(e5: LocalE5Embedder) -> None:
    # Arabic yeh/kaf and a lost half-space (ZWNJ) are the same words to a reader, so to the index too.
    persian, old_export = "کتاب‌های یک کودک", "كتابهاي يك كودك"
    first, second = e5.embed_passages([persian, old_export])
    assert np.allclose(first, second, atol=1e-6)


@pytest.fixture
def embeddings_server(e5: LocalE5Embedder) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny OpenAI-compatible ``/v1/embeddings`` server (backed by E5 passages); yields its URL and
    the requests it received."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> dict[str, Any]:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        received.append({**body, "authorization": request.headers.get("authorization")})
        vectors = np.asarray(e5.embed_passages(texts), dtype="<f4")
        as_base64 = body.get("encoding_format") == "base64"
        return {
            "object": "list",
            "model": body["model"],
            "data": [
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": base64.b64encode(vector.tobytes()).decode()
                    if as_base64
                    else vector.tolist(),
                }
                for index, vector in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }

    with serve_in_thread(app) as base_url:
        yield f"{base_url}/v1", received


def test_litellm_embedder_calls_an_openai_compatible_server_in_batches(
    e5: LocalE5Embedder, embeddings_server: tuple[str, list[dict[str, Any]]]
) -> None:
    api_base, received = embeddings_server
    with internet_blocked() as attempts:
        embedder = LiteLLMEmbedder("openai/gc-test", api_base=api_base, api_key="sk-test", batch_size=2)
        vectors = embedder.embed_passages(TEXTS)
        queries = embedder.embed_queries(TEXTS[:1])
        dimension = embedder.dimension
    assert attempts == []
    assert embedder.model_id == "openai/gc-test" and dimension == 384
    assert np.allclose(vectors, e5.embed_passages(TEXTS), atol=1e-5)
    assert np.allclose(queries, vectors[:1], atol=1e-5)
    assert [len(request["input"]) for request in received] == [2, 2, 1, 1, 1]
    assert {request["model"] for request in received} == {"gc-test"}
    assert {request["authorization"] for request in received} == {"Bearer sk-test"}
    assert received[0]["input"] == matching_views(TEXTS[:2])  # what is sent is the normalised view


def test_settings_choose_the_embedder(embeddings_server: tuple[str, list[dict[str, Any]]]) -> None:
    assert embedder_from_settings(Settings()).model_id == LOCAL_E5_MODEL
    with pytest.raises(ValueError, match="unknown local embedding model"):
        embedder_from_settings(Settings(embedding_model="local:bge-m3"))
    api_base, received = embeddings_server
    remote = embedder_from_settings(
        Settings(
            embedding_model="openai/remote", embedding_api_base=api_base, embedding_api_key=SecretStr("k")
        )
    )
    assert isinstance(remote, LiteLLMEmbedder) and remote.dimension == 384
    assert received[-1]["authorization"] == "Bearer k"
