"""A persistent embedding cache: a text is embedded once per model and kind, ever.

Vectors are stored in a small SQLite file, keyed by the SHA-256 of (model id, kind, text), so evaluation
runs in fresh temporary databases, re-suggesting after every review step and the baselines reuse what
any earlier run computed. Several processes may share one file (SQLite locks it).
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from services.retrieval.embeddings import Embedder

Kind = Literal["passage", "query"]
CACHE_FILE = "embeddings.sqlite3"


def cache_key(model_id: str, kind: Kind, text: str) -> bytes:
    """The SHA-256 of the model, the kind and the text (separated so that no two triples collide)."""
    return hashlib.sha256("\x00".join((model_id, kind, text)).encode("utf-8")).digest()


class CachedEmbedder:
    """``inner`` behind the cache in ``folder``: only texts never embedded before reach it."""

    def __init__(self, inner: Embedder, folder: Path) -> None:
        self._inner = inner
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / CACHE_FILE
        self._connection = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._connection:
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
            )
        self.computed = 0  # texts the inner embedder was asked for, since this object was made

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dimension(self) -> int:
        return self._inner.dimension

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts, "passage")

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return self._embed(texts, "query")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def _embed(self, texts: Sequence[str], kind: Kind) -> list[list[float]]:
        keys = [cache_key(self.model_id, kind, text) for text in texts]
        found = self._load(set(keys))
        missing = list(dict.fromkeys(text for text, key in zip(texts, keys, strict=True) if key not in found))
        if missing:
            embed = self._inner.embed_queries if kind == "query" else self._inner.embed_passages
            fresh = {
                cache_key(self.model_id, kind, t): v for t, v in zip(missing, embed(missing), strict=True)
            }
            self._store(fresh)
            self.computed += len(missing)
            found.update(fresh)
        return [list(found[key]) for key in keys]

    def _load(self, keys: set[bytes]) -> dict[bytes, list[float]]:
        found: dict[bytes, list[float]] = {}
        wanted = list(keys)
        with self._lock:
            for begin in range(0, len(wanted), 500):  # SQLite limits the parameters of one statement
                chunk = wanted[begin : begin + 500]
                placeholders = ",".join("?" * len(chunk))  # only "?"s: the keys travel as parameters
                query = f"SELECT key, vector FROM vectors WHERE key IN ({placeholders})"  # nosec B608
                rows = self._connection.execute(query, chunk)
                found.update((key, np.frombuffer(blob, dtype=np.float64).tolist()) for key, blob in rows)
        return found

    def _store(self, vectors: dict[bytes, list[float]]) -> None:
        rows = [(key, np.asarray(vector, dtype=np.float64).tobytes()) for key, vector in vectors.items()]
        with self._lock, self._connection:
            self._connection.executemany("INSERT OR IGNORE INTO vectors (key, vector) VALUES (?, ?)", rows)
