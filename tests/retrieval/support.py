"""Test support for retrieval: a counting wrapper around the real embedder, stored transcripts, and a
network guard that refuses (and records) every attempt to reach a host beyond loopback."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chromadb.utils.embedding_functions import DefaultEmbeddingFunction

from groundcode.domain import Segment, SegmentUnit, Source, content_hash, derived_id
from groundcode.storage.repository import Repository
from services.retrieval.embeddings import Embedder


class CountingEmbedder:
    """The real embedder, counting the texts it is asked to embed (and optionally failing on purpose)."""

    def __init__(self, inner: Embedder, *, fail_after_calls: int | None = None) -> None:
        self._inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.passages = 0
        self.queries = 0
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self._call()
        self.passages += len(texts)
        return self._inner.embed_passages(texts)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        self._call()
        self.queries += len(texts)
        return self._inner.embed_queries(texts)

    def _call(self) -> None:
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise RuntimeError("embedding service unavailable (simulated)")
        self.calls += 1


def add_transcript(
    repository: Repository, project_id: str, name: str, turns: Sequence[tuple[str, str]]
) -> tuple[Source, list[Segment]]:
    """Store a transcript of ``(speaker, sentence)`` turns, one segment per turn, with exact offsets."""
    text = ""
    spans = []
    for speaker, sentence in turns:
        text += f"{speaker}: "
        spans.append((speaker, len(text), len(text) + len(sentence)))
        text += sentence + "\n"
    source, _ = repository.add_source(
        Source(project_id=project_id, name=name, format="txt", text=text, content_hash=content_hash(text))
    )
    segments = [
        Segment(
            id=derived_id(source.id, str(start)),
            source_id=source.id,
            position=position,
            start=start,
            end=end,
            text=text[start:end],
            unit=SegmentUnit.TURN,
            speaker=speaker,
        )
        for position, (speaker, start, end) in enumerate(spans)
    ]
    repository.replace_segments(source.id, segments)
    return source, segments


def _is_loopback(host: object) -> bool:
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@contextmanager
def internet_blocked() -> Iterator[list[str]]:
    """Within the block, name lookups and connections beyond loopback fail; yields the attempts made."""
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(f"connect {address}")
            raise OSError(f"test blocked a connection to {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            attempts.append(f"lookup {host}")
            raise socket.gaierror(f"test blocked a lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def default_embedding(self: object, input: Any) -> Any:
        attempts.append("chroma default embedding function")
        raise AssertionError("Chroma's default embedding function was used")

    saved_call = DefaultEmbeddingFunction.__call__
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.getaddrinfo = getaddrinfo
    DefaultEmbeddingFunction.__call__ = default_embedding  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.getaddrinfo = real_getaddrinfo
        DefaultEmbeddingFunction.__call__ = saved_call  # type: ignore[method-assign]
