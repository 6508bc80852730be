"""The embedding cache: a text is embedded once per model and kind, across embedder objects and runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from groundcode.app import open_groundcode
from groundcode.settings import Settings
from services.retrieval.embedding_cache import CachedEmbedder, cache_key


class Counting:
    """A fake embedder that records what it was asked to embed."""

    def __init__(self, model_id: str = "fake") -> None:
        self.model_id = model_id
        self.dimension = 2
        self.asked: list[tuple[str, str]] = []

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked += [("passage", text) for text in texts]
        return [[float(len(text)), 0.1] for text in texts]

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self.asked += [("query", text) for text in texts]
        return [[float(len(text)), 0.2] for text in texts]


def test_a_text_is_embedded_once_per_kind_even_across_runs(tmp_path: Path) -> None:
    inner = Counting()
    cached = CachedEmbedder(inner, tmp_path)
    first = cached.embed_queries(["a", "bb", "a"])
    assert cached.embed_queries(["bb", "a"]) == [first[1], first[0]]
    assert cached.embed_passages(["a"]) == [[1.0, 0.1]]  # another kind, another vector
    assert inner.asked == [("query", "a"), ("query", "bb"), ("passage", "a")]
    cached.close()

    again = Counting()
    reopened = CachedEmbedder(again, tmp_path)
    assert reopened.embed_queries(["a", "bb"]) == first[:2]
    assert again.asked == [] and reopened.computed == 0
    assert CachedEmbedder(Counting("other"), tmp_path).embed_queries(["a"]) == [[1.0, 0.2]]


def test_keys_differ_by_model_and_kind() -> None:
    assert cache_key("m", "query", "a") != cache_key("m", "passage", "a") != cache_key("n", "query", "a")


def test_the_app_embeds_through_the_cache_in_the_configured_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", embedding_cache_dir=tmp_path / "cache")
    groundcode = open_groundcode(settings)
    try:
        assert isinstance(groundcode.embedder, CachedEmbedder)
        assert groundcode.embedder.path.parent == tmp_path / "cache"
    finally:
        groundcode.close()
    assert Settings(data_dir=tmp_path).resolved_embedding_cache_dir() == tmp_path / "embedding-cache"
