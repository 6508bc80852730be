"""Faults injected into a running scaled-out deployment; afterwards nothing may be missing or doubled.

Each test is bounded (its own timeouts) and stops its processes itself. Results: bench/RESULTS.md
("Reliability under faults"). Run: ``pytest -m reliability tests/reliability -s``.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from groundcode.deploy import LocalDeployment
from tests.live_server import api_token, poll_until, serve_in_thread
from tests.reliability.conftest import (
    Deploy,
    groundcode_cli,
    import_interviews,
    scalar_rows,
    settings_of,
    wait_until_settled,
    work_counts,
    write_interviews,
)
from tests.suggestion.fake_chat_server import FakeChatServer, Reply, auto_reply

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]

REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
    "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
PG_CTL = ["pg_ctlcluster", "--skip-systemctl-redirect", "15", "main"]


def assert_everything_once(deployment: LocalDeployment, sources: int, segments_per_source: int) -> None:
    """Every source chunked, indexed and suggested, each exactly once in effect, nothing failed."""
    counts = wait_until_settled(deployment, timeout_seconds=600)
    assert counts == {
        ("index-codebook", "done"): 1,
        ("chunk", "done"): sources,
        ("index", "done"): sources,
        ("suggest", "done"): sources,
    }
    [(segments, sources_seen)] = scalar_rows(
        deployment, "SELECT count(*), count(DISTINCT source_id) FROM segments"
    )
    assert (segments, sources_seen) == (sources * segments_per_source, sources)
    doubled = scalar_rows(
        deployment,
        "SELECT segment_id, backend, mode, rank, count(*) FROM suggestions "
        "GROUP BY segment_id, backend, mode, rank HAVING count(*) > 1",
    )
    assert doubled == []
    [(suggested_sources,)] = scalar_rows(
        deployment,
        "SELECT count(DISTINCT source_id) FROM segments JOIN suggestions ON segment_id = segments.id",
    )
    assert suggested_sources == sources


def suggestion_snapshot(deployment: LocalDeployment) -> set[tuple[object, ...]]:
    return set(
        scalar_rows(deployment, "SELECT id, segment_id, mode, rank, code_id, proposed_label FROM suggestions")
    )


def test_killing_workers_loses_and_doubles_nothing(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy(replicas=2)
    paths = write_interviews(tmp_path / "in", files=40, sentences=25)  # 1,000 segments
    rng = random.Random(1)
    kills: list[str] = []
    stop = threading.Event()

    def killer() -> None:
        # Several rounds: at a random moment, kill -9 a random worker of each stage and start it again.
        for _round in range(4):
            if stop.wait(rng.uniform(3, 10)):
                return
            for group in deployment.topology.workers:
                victim = rng.choice(deployment.workers(group.name))
                deployment.restart(victim)
                kills.append(victim)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    started = time.monotonic()
    import_interviews(deployment, paths)
    try:
        assert_everything_once(deployment, sources=40, segments_per_source=25)
    finally:
        stop.set()
        thread.join()
    settled = time.monotonic() - started
    # The segments' suggestions are exactly those of a run without faults (the offline backend may find that
    # no code fits a segment, so a segment without suggestions is not by itself a loss).
    under_faults = suggestion_snapshot(deployment)
    groundcode_cli(deployment, "suggest")
    assert suggestion_snapshot(deployment) == under_faults
    [(redone,)] = scalar_rows(deployment, "SELECT count(*) FROM work_items WHERE attempts > 1")
    victims = ", ".join(sorted(set(kills)))
    print(f"\nkill -9 of {len(kills)} workers ({victims}); settled after {settled:.0f} s")
    print(f"{redone} work items claimed more than once; {len(under_faults)} suggestions, as without faults")


def test_a_redis_restart_mid_run_loses_nothing(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy(replicas=2)
    paths = write_interviews(tmp_path / "in", files=20, sentences=10)
    import_interviews(deployment, paths)
    before = poll_until(
        lambda: work_counts(deployment),
        lambda counts: counts.get(("chunk", "done"), 0) >= 3,
        "chunking began",
    )
    subprocess.run(["redis-cli", "shutdown", "nosave"], check=False)  # every queued message is gone
    time.sleep(2)
    subprocess.run(REDIS_START, check=True)
    assert_everything_once(deployment, sources=20, segments_per_source=10)
    print(f"\nRedis restarted (2 s down, nothing saved) at {before}")


def ready_status(url: str) -> int:
    return httpx.get(f"{url}/ready", timeout=10).status_code


def test_postgres_outage_makes_apis_unready_and_keeps_decisions(deploy: Deploy, tmp_path: Path) -> None:
    deployment = deploy(replicas=1)
    import_interviews(deployment, write_interviews(tmp_path / "in", files=2, sentences=5), wait=True)
    wait_until_settled(deployment, timeout_seconds=300)
    headers = api_token(settings_of(deployment), projects=["default"])
    adjudication = httpx.Client(base_url=deployment.urls["adjudication-api"], headers=headers, timeout=10)
    decided: list[str] = []
    for version in range(3):
        view = adjudication.get("/projects/default/review").json()
        suggestion = next(c for c in view["candidates"] if c["mode"] == "deductive")
        ids = [suggestion["suggestion_id"]]
        body = {"action": "accept", "suggestion_ids": ids, "version": view["version"]}
        response = adjudication.post("/projects/default/decisions", json=body)
        assert response.status_code == 200, (version, response.text)
        decided.extend(d["id"] for d in response.json()["decisions"])

    subprocess.run([*PG_CTL, "stop"], check=True)
    stopped = time.monotonic()
    try:
        for url in deployment.urls.values():
            assert ready_status(url) == 503, url
        time.sleep(3)
    finally:
        subprocess.run([*PG_CTL, "start"], check=True)
    for url in deployment.urls.values():
        poll_until(partial(ready_status, url), lambda status: status == 200, f"{url} ready again")
    print(f"\nPostgreSQL down for {time.monotonic() - stopped:.1f} s; all APIs answered 503, then 200")
    log = adjudication.get("/projects/default/decisions").json()
    assert set(decided) <= {d["id"] for d in log}
    assert all(process.alive for process in deployment.processes.values() if process.name != "migrate")


def test_llm_faults_fail_visibly_and_retry_pays_once(deploy: Deploy, tmp_path: Path) -> None:
    faults = [
        Reply(status=429, headers={"Retry-After": "0"}),
        Reply(status=500),
        Reply(hang=True),
        Reply(content="this is not JSON {"),
    ]
    healthy = threading.Event()
    rng = random.Random(4)
    injected: Counter[str] = Counter()
    answered: list[str] = []  # the prompts that got a valid (paid) answer

    def respond(body: dict[str, Any]) -> Reply:
        if not healthy.is_set():
            fault = rng.choice(faults)
            injected["hang" if fault.hang else str(fault.status) if fault.status != 200 else "garbage"] += 1
            return fault
        reply = auto_reply(body)
        answered.append(str(body["messages"][1]["content"]))
        return reply

    server = FakeChatServer(respond)
    with serve_in_thread(server.app()) as base_url:
        llm = {
            "GROUNDCODE_SUGGESTION_BACKEND": "llm",
            "GROUNDCODE_LLM_MODEL": "openai/test-model",
            "GROUNDCODE_LLM_API_BASE": base_url + "/v1",
            "GROUNDCODE_LLM_API_KEY": "test",
            "GROUNDCODE_LLM_TIMEOUT_SECONDS": "2",
            "GROUNDCODE_MAX_ATTEMPTS": "2",
        }
        deployment = deploy(replicas=1, environment=llm)
        import_interviews(deployment, write_interviews(tmp_path / "in", files=3, sentences=4))
        counts = wait_until_settled(deployment, timeout_seconds=400)
        assert counts[("suggest", "failed")] == 3, counts
        healthy.set()
        groundcode_cli(deployment, "retry", "--stage", "suggest")
        assert wait_until_settled(deployment, timeout_seconds=300)[("suggest", "done")] == 3
        assert len(answered) == len(set(answered)) == 12  # one paid call per segment
        groundcode_cli(deployment, "suggest")  # again, with everything cached: no new calls
        wait_until_settled(deployment, timeout_seconds=300)
        assert len(answered) == 12
    print(f"\nfaulty replies {dict(injected)}, then {len(answered)} paid answers and none after 'suggest'")
