"""``groundcode deploy run`` as a user runs it: it prints the URLs once all is ready, and SIGTERM stops every
process it started and removes their consumers from the Redis consumer groups."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import redis

from groundcode.deploy import TOPOLOGY
from groundcode.domain import Stage
from tests.reliability.conftest import free_port_block, write_interviews

pytestmark = [pytest.mark.reliability, pytest.mark.postgres, pytest.mark.redis]


def test_deploy_run_serves_and_stops_cleanly(
    postgres_url: str, redis_url: str, queue_prefix: str, tmp_path: Path
) -> None:
    base_port = free_port_block(len(TOPOLOGY.apis) + 1)
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "GROUNDCODE_REDIS_URL": redis_url,
        "GROUNDCODE_QUEUE_PREFIX": queue_prefix,
        "GROUNDCODE_DATA_DIR": str(tmp_path / "data"),
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "groundcode", "deploy", "run", "--base-port", str(base_port)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert run.stdout is not None
        urls = dict(run.stdout.readline().split() for _api in TOPOLOGY.apis)
        assert set(urls) == {api.name for api in TOPOLOGY.apis}
        assert all(httpx.get(f"{url}/ready").status_code == 200 for url in urls.values())
        [path] = write_interviews(tmp_path / "in", files=1, sentences=3)
        imported = subprocess.run(
            [sys.executable, "-m", "groundcode", "import", str(path)],
            env={**env, "GROUNDCODE_QUEUE": "redis"},
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert imported.returncode == 0, imported.stderr
        run.send_signal(signal.SIGTERM)
        assert run.wait(60) == 0
        assert "stopped" in run.stdout.read()
    finally:
        run.kill()
    for url in urls.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health")
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    chunk = f"{queue_prefix}:{Stage.CHUNK.value}"
    try:
        [group] = client.xinfo_groups(chunk)
        assert client.xinfo_consumers(chunk, group["name"]) == []
    finally:
        client.close()
