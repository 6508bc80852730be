"""Metrics at /metrics, the service token on the operations routes, JSON log lines naming the work item."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from groundcode.app import open_groundcode
from groundcode.domain import Stage, WorkItem, utcnow
from groundcode.observability import configure_logging, llm_token_totals, recent_throughput
from groundcode.queue.runner import WorkRunner
from groundcode.settings import SECRETS_DIR_VARIABLE, Settings
from services.chunking.api import create_app
from services.suggestion.cache import SQLResponseCache
from services.suggestion.models import CachedAnswer, CallRecord, Mode
from tests.live_server import api_token, free_port, poll_until, serve_in_thread

TRANSCRIPT = b"Interviewer: How do agencies share data?\nP1: Mostly by email. It is slow.\n"
OPERATIONS = [("GET", "/work-items"), ("POST", "/work-items/retry"), ("GET", "/metrics")]


def test_metrics_expose_the_queue_the_work_done_and_its_durations(settings: Settings) -> None:
    with (
        serve_in_thread(create_app(settings)) as base_url,
        httpx.Client(
            base_url=base_url, timeout=30, headers=api_token(settings, projects=["study"], admin=True)
        ) as http,
    ):
        upload = http.post("/projects/study/sources", files={"files": ("a.txt", TRANSCRIPT, "text/plain")})
        assert upload.status_code < 300, upload.text
        poll_until(
            lambda: http.get("/work-items").json()["counts"].get("chunk", {}),
            lambda counts: counts.get("done") == 1,
            "the transcript was not chunked",
        )
        metrics = http.get("/metrics")

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'groundcode_work_items{stage="chunk",status="done"} 1.0' in text
    assert 'groundcode_work_items_processed_total{outcome="done",stage="chunk"}' in text
    assert 'groundcode_stage_handler_seconds_count{stage="chunk"}' in text
    # The LLM families are declared even before a call (their values come with the first one).
    assert "# TYPE groundcode_llm_call_seconds histogram" in text
    assert "# TYPE groundcode_llm_tokens_total counter" in text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_operations_routes_take_an_administrator_or_the_service_token(settings: Settings) -> None:
    user = api_token(settings)
    admin = api_token(settings, "ada", admin=True)
    with serve_in_thread(create_app(settings, run_workers=False)) as base_url:
        for method, path in OPERATIONS:
            assert httpx.request(method, base_url + path).status_code == 401
            refused = httpx.request(method, base_url + path, headers=user)
            assert refused.status_code == 403 and "administrators" in refused.text
            assert httpx.request(method, base_url + path, headers=admin).status_code == 200
    token = "s3rvice-token-for-tests"
    guarded = settings.model_copy(update={"service_token": SecretStr(token)})
    service = {"Authorization": f"Bearer {token}"}
    with serve_in_thread(create_app(guarded, run_workers=False)) as base_url:
        for method, path in OPERATIONS:
            wrong = {"Authorization": f"Bearer {token}x"}
            refused = httpx.request(method, base_url + path, headers=wrong)
            assert refused.status_code == 401 and "GROUNDCODE_SERVICE_TOKEN" in refused.text
            assert httpx.request(method, base_url + path, headers=user).status_code == 403
            assert httpx.request(method, base_url + path, headers=service).status_code == 200
            assert httpx.request(method, base_url + path, headers=admin).status_code == 200


async def test_a_json_log_line_names_the_work_item_and_stage(settings: Settings) -> None:
    def chunk(subject_id: str) -> list[tuple[Stage, str]]:
        logging.getLogger("groundcode.test").info("chunking %s", subject_id)
        raise ValueError("unreadable")

    async def publish(_item: WorkItem) -> None:
        return None

    stream = io.StringIO()
    handler = configure_logging(settings.model_copy(update={"log_format": "json"}), stream)
    groundcode = open_groundcode(settings)
    runner = WorkRunner(
        groundcode.work_items, {Stage.CHUNK: chunk}, settings, publish, retry_backoff_seconds=0
    )
    try:
        item = await runner.submit(Stage.CHUNK, "source-1")
        await runner.process(item.id)
    finally:
        runner.close()
        groundcode.close()
        logging.getLogger().removeHandler(handler)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    about_item = [line for line in lines if line.get("work_item_id") == item.id]
    assert {line["message"] for line in about_item} >= {
        "chunking source-1",
        "chunk of source-1 failed (attempt 1 of 3): ValueError: unreadable",
    }
    assert {line["stage"] for line in about_item} == {"chunk"}
    assert all(line["level"] in ("INFO", "WARNING") and line["time"] for line in about_item)


def test_status_figures_throughput_and_llm_tokens_shared_by_a_batch(settings: Settings) -> None:
    groundcode = open_groundcode(settings)
    try:
        item = groundcode.work_items.ensure(Stage.CHUNK, "source-1")
        claimed = groundcode.work_items.claim(item.id, lease_seconds=60)
        assert claimed is not None
        groundcode.work_items.complete(claimed, [])
        cache = SQLResponseCache(groundcode.sessions)
        call = CallRecord(
            resolved_model="m",
            usage={"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
            cost_usd=None,
            latency_ms=1.0,
            http_calls=1,
            reasks=0,
            batch_size=2,
            answered_at=utcnow(),
        )
        for segment in ("s1", "s2"):  # one call answered both segments
            entry = CachedAnswer(
                segment_id=segment, model="openai/m", mode=Mode.DEDUCTIVE, answer={}, call=call
            )
            cache.put(f"key-{segment}", entry)

        [chunk] = recent_throughput(groundcode.engine, minutes=5)
        tokens = llm_token_totals(groundcode.engine)
    finally:
        groundcode.close()
    assert (chunk.stage, chunk.done, chunk.failed) == ("chunk", 1, 0)
    assert chunk.per_second == pytest.approx(1 / 300)
    assert tokens == {"openai/m": {"prompt": 120, "completion": 30}}


def test_secrets_come_from_the_secrets_directory_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "groundcode_llm_api_key").write_text("from-a-file\n")
    (tmp_path / "groundcode_service_token").write_text("token-from-a-file")
    monkeypatch.setenv(SECRETS_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setenv("GROUNDCODE_SERVICE_TOKEN", "token-from-the-environment")

    settings = Settings()

    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "from-a-file"
    assert settings.service_token is not None
    assert settings.service_token.get_secret_value() == "token-from-the-environment"
    assert "from-a-file" not in repr(settings)


def test_a_separate_worker_serves_its_own_metrics_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    environment = {**os.environ, "GROUNDCODE_DATA_DIR": str(tmp_path / "data")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "groundcode", "worker", "--stage", "chunk", "--metrics-port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def scrape() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.TransportError:
                return ""

        body = poll_until(scrape, bool, "the worker served no metrics", timeout_seconds=60)
        assert "groundcode_work_items_processed" in body and "groundcode_llm_call_seconds" in body
    finally:
        worker.terminate()
        worker.wait(timeout=30)
