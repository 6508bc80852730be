"""Logs and metrics: JSON log lines carrying the work item being processed, secrets masked in every
log line, and the Prometheus metrics every service app serves at ``/metrics``.

Counters and histograms live in this process (a scaled-out worker counts its own work); the queue depth
is read from the work_items table at scrape time, so any service reports the whole queue.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from groundcode.domain import Stage, WorkItem, WorkStatus, utcnow
from groundcode.settings import Settings
from groundcode.storage.tables import LLMCacheRow, WorkItemRow

WORK_ITEMS_PROCESSED = Counter(
    "groundcode_work_items_processed",
    "Work item attempts finished, by stage and outcome ('failed': the attempt failed; it may be retried).",
    ["stage", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "groundcode_stage_handler_seconds",
    "Time a stage handler took for one work item.",
    ["stage"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
LLM_CALL_SECONDS = Histogram(
    "groundcode_llm_call_seconds",
    "One chat completion call, from getting a slot to the answer or error.",
    ["model"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
LLM_TOKENS = Counter("groundcode_llm_tokens", "Tokens the chat model reported.", ["model", "kind"])


def record_llm_usage(model: str, usage: Mapping[str, int]) -> None:
    """Count one response's prompt and completion tokens."""
    for kind in ("prompt", "completion"):
        LLM_TOKENS.labels(model=model, kind=kind).inc(usage.get(f"{kind}_tokens", 0))


class _QueueDepth(Collector):
    def __init__(self, counts: Mapping[tuple[str, str], int]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily(
            "groundcode_work_items", "Work items by stage and status, now.", labels=["stage", "status"]
        )
        for stage in Stage:
            for status in WorkStatus:
                depth.add_metric(
                    [stage.value, status.value], self._counts.get((stage.value, status.value), 0)
                )
        yield depth


def metrics_exposition(work_item_counts: Mapping[tuple[str, str], int]) -> bytes:
    """This process's metrics and the queue depth, in the Prometheus text format."""
    queue = CollectorRegistry(auto_describe=False)
    queue.register(_QueueDepth(work_item_counts))
    return generate_latest(REGISTRY) + generate_latest(queue)


# --- logs -------------------------------------------------------------------------------------------

_work_item: contextvars.ContextVar[WorkItem | None] = contextvars.ContextVar("work_item", default=None)


@contextmanager
def work_item_context(item: WorkItem) -> Iterator[None]:
    """Log records made in this block (and in threads started with a copy of its context) name ``item``."""
    token = _work_item.set(item)
    try:
        yield
    finally:
        _work_item.reset(token)


MASK = "***"
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\"]+"),  # Authorization headers
    re.compile(r"(gc_)[A-Za-z0-9_\-]{8,}"),  # groundcode API tokens and session cookies
    re.compile(r"(sk-)[A-Za-z0-9_\-]{8,}"),  # OpenAI-style provider keys
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(?=@)"),  # passwords in URLs
    re.compile(r"(?i)((?:api[_-]?key|password|token|secret)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]+"),
)


class SecretFilter(logging.Filter):
    """Masks secrets in a record's message and traceback: the configured ones, and anything shaped like a
    token, provider key, Authorization header, URL password or ``password=...``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(lambda match: match.group(1) + MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        item = _work_item.get()
        if item is not None:
            record.work_item_id = item.id
            record.stage = item.stage.value
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the work item and stage if any, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ("work_item_id", "stage"):
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret value in ``settings``: keys, the service token, the database password."""
    values = [
        secret.get_secret_value()
        for secret in (settings.llm_api_key, settings.embedding_api_key, settings.service_token)
        if secret is not None
    ]
    password = make_url(settings.database_url).password if settings.database_url else None
    return [*values, *([str(password)] if password else [])]


_HANDLER_NAME = "groundcode"


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted: command runners (and tests) swap it,
    and a handler holding on to a closed one would fail."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Install groundcode's handler on the root logger (replacing an earlier one): text or JSON lines,
    secrets masked. Returns the handler."""
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    handler.set_name(_HANDLER_NAME)
    handler.setLevel(settings.log_level)
    handler.addFilter(SecretFilter(configured_secrets(settings)))
    handler.setFormatter(
        JsonFormatter()
        if settings.log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in [old for old in root.handlers if old.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    if root.level > handler.level:
        root.setLevel(handler.level)
    return handler


# --- figures for `groundcode status` ----------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    stage: str
    done: int
    failed: int
    per_second: float


def recent_throughput(engine: Engine, minutes: float) -> list[Throughput]:
    """Items finished per stage in the last ``minutes``, from the work items' last update times."""
    since = utcnow() - timedelta(minutes=minutes)
    statement = (
        select(WorkItemRow.stage, WorkItemRow.status, func.count())
        .where(WorkItemRow.updated_at >= since)
        .where(WorkItemRow.status.in_([WorkStatus.DONE.value, WorkStatus.FAILED.value]))
        .group_by(WorkItemRow.stage, WorkItemRow.status)
    )
    with engine.connect() as connection:
        counts = {(stage, status): count for stage, status, count in connection.execute(statement)}
    return [
        Throughput(
            stage=stage,
            done=counts.get((stage, WorkStatus.DONE.value), 0),
            failed=counts.get((stage, WorkStatus.FAILED.value), 0),
            per_second=counts.get((stage, WorkStatus.DONE.value), 0) / (minutes * 60),
        )
        for stage in sorted({stage for stage, _status in counts})
    ]


def llm_token_totals(engine: Engine) -> dict[str, dict[str, int]]:
    """Prompt and completion tokens per model, from the cached LLM answers (each segment of a batched call
    carries the call's usage, so it counts for a 1/batch share)."""
    totals: dict[str, dict[str, float]] = {}
    with engine.connect() as connection:
        for model, value in connection.execute(select(LLMCacheRow.model, LLMCacheRow.value)):
            call = value.get("call", {})
            share = 1 / max(int(call.get("batch_size", 1)), 1)
            usage = call.get("usage", {})
            model_totals = totals.setdefault(model, {"prompt": 0.0, "completion": 0.0})
            for kind in model_totals:
                model_totals[kind] += usage.get(f"{kind}_tokens", 0) * share
    return {model: {kind: round(n) for kind, n in kinds.items()} for model, kinds in totals.items()}
