"""The response cache: validated answers per segment, so a redelivered work item never pays twice.

The key covers everything that shapes the answer (prompt template version, model, temperature, mode,
codebook version, the segment's id and text, its context, candidates, exemplars and the coder's examples,
the number of samples) and nothing that
does not (retrieval scores, the random data boundary, which other segments shared the batch).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from groundcode.domain import utcnow
from groundcode.storage.database import transaction
from groundcode.storage.tables import LLMCacheRow
from services.suggestion.models import CachedAnswer, SuggestionRequest


def cache_key(
    request: SuggestionRequest,
    *,
    model: str,
    prompt_version: str,
    temperature: float,
    options: Mapping[str, Any] | None = None,
) -> str:
    """``options``: other settings that shape the answer (e.g. the number of samples)."""
    parts = {
        "prompt": prompt_version,
        "model": model,
        "temperature": temperature,
        "mode": request.mode.value,
        "codebook": [request.codebook_id, request.codebook_version],
        "segment": request.segment_id,
        "text": [request.text, request.speaker, request.context_before, request.context_after],
        "language": request.language,
        "candidates": [candidate.code_id for candidate in request.candidates],
        "exemplars": [[exemplar.text, exemplar.code_ids] for exemplar in request.exemplars],
        "feedback": [[f.text, f.code_name, f.accepted, f.reason] for f in request.feedback],
        **({"options": dict(options)} if options else {}),
    }
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class ResponseCache(Protocol):
    """Where validated answers are kept. Called from worker threads; ``put`` of an existing key is a no-op."""

    def get(self, key: str) -> CachedAnswer | None: ...

    def put(self, key: str, entry: CachedAnswer) -> None: ...


class InMemoryResponseCache:
    """A dict; for tests and one-off runs."""

    def __init__(self) -> None:
        self._entries: dict[str, CachedAnswer] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: str, entry: CachedAnswer) -> None:
        with self._lock:
            self._entries.setdefault(key, entry)


class SQLResponseCache:
    """The ``llm_cache`` table, on SQLite or PostgreSQL."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, key: str) -> CachedAnswer | None:
        with self._sessions() as session:
            value = session.scalar(select(LLMCacheRow.value).where(LLMCacheRow.key == key))
        return CachedAnswer.model_validate(value) if value is not None else None

    def put(self, key: str, entry: CachedAnswer) -> None:
        row = LLMCacheRow(
            key=key,
            segment_id=entry.segment_id,
            model=entry.model,
            value=entry.model_dump(mode="json"),
            created_at=utcnow(),
        )
        try:
            with transaction(self._sessions) as session:
                session.add(row)
        except IntegrityError:
            pass  # another worker stored the same answer first; either copy is valid
