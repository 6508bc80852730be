"""Fault tests on the scaled-out topology: ``groundcode deploy``'s processes on loopback, on a fresh
PostgreSQL database and a unique Redis queue prefix. Slow (minutes): run with ``pytest -m reliability``."""

from __future__ import annotations

import random
import socket
import subprocess
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import text

from groundcode.app import open_groundcode
from groundcode.deploy import TOPOLOGY, LocalDeployment
from groundcode.settings import Settings
from tests.live_server import free_port, poll_until

# Short leases and sweeps, so a killed worker's items come back within seconds, not minutes.
FAST_RECOVERY = {
    "GROUNDCODE_LEASE_SECONDS": "8",
    "GROUNDCODE_SWEEP_INTERVAL_SECONDS": "2",
    "GROUNDCODE_RESEND_PENDING_AFTER_SECONDS": "6",
}
WORDS = ("trust", "paper", "email", "portal", "money", "family", "school", "work", "health", "rent", "forms")

Deploy = Callable[..., LocalDeployment]


def free_port_block(size: int) -> int:
    """A first port such that ``size`` consecutive ports were free a moment ago."""
    while True:
        first = free_port()
        if first + size < 65536 and all(_is_free(first + offset) for offset in range(1, size)):
            return first


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture
def deploy(postgres_url: str, redis_url: str, queue_prefix: str, tmp_path: Path) -> Iterator[Deploy]:
    """Starts ``groundcode deploy``'s topology (``replicas`` per worker group, extra ``environment``)."""
    started: list[LocalDeployment] = []

    def start(replicas: int = 2, environment: dict[str, str] | None = None) -> LocalDeployment:
        topology = TOPOLOGY.scaled({group.name: replicas for group in TOPOLOGY.workers})
        deployment = LocalDeployment(
            database_url=postgres_url,
            data_dir=tmp_path / "deployment",
            redis_url=redis_url,
            queue_prefix=queue_prefix,
            topology=topology,
            base_port=free_port_block(len(topology.apis) + 1),
            environment={**FAST_RECOVERY, **(environment or {})},
        )
        started.append(deployment)
        deployment.start()
        return deployment

    yield start
    for deployment in started:
        deployment.stop()


def write_interviews(directory: Path, files: int, sentences: int, seed: int = 8) -> list[Path]:
    """``files`` transcripts of ``sentences`` distinct sentences each (one segment per sentence)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(files):
        lines = [
            f"P{index}: Sentence {n} is about {' and '.join(rng.sample(WORDS, 3))}." for n in range(sentences)
        ]
        path = directory / f"interview-{index:03}.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def groundcode_cli(deployment: LocalDeployment, *arguments: str, timeout: float = 300) -> str:
    """Runs a ``groundcode`` command next to the deployment (same database and queue); returns its output."""
    result = subprocess.run(
        deployment.groundcode_command(list(arguments)),
        env=deployment.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def import_interviews(deployment: LocalDeployment, paths: list[Path], *, wait: bool = False) -> None:
    """Imports the sample codebook (waiting until it is indexed), then ``paths``."""
    # A source suggested before the codebook is indexed gets no deductive suggestions: import it first.
    codebook = Path(str(resources.files("groundcode") / "samples" / "codebook.yaml"))
    groundcode_cli(deployment, "import", "--codebook", str(codebook))
    groundcode_cli(deployment, "import", *map(str, paths), *([] if wait else ["--no-wait"]))


def settings_of(deployment: LocalDeployment) -> Settings:
    return Settings(database_url=deployment.database_url, data_dir=deployment.data_dir)


def work_counts(deployment: LocalDeployment) -> dict[tuple[str, str], int]:
    groundcode = open_groundcode(settings_of(deployment))
    try:
        return groundcode.work_items.counts()
    finally:
        groundcode.close()


def wait_until_settled(deployment: LocalDeployment, timeout_seconds: float) -> dict[tuple[str, str], int]:
    """Work-item counts once nothing is pending or running."""
    return poll_until(
        lambda: work_counts(deployment),
        lambda counts: not any(status in {"pending", "running"} for _stage, status in counts),
        "all work items done or failed",
        timeout_seconds,
    )


def scalar_rows(deployment: LocalDeployment, query: str) -> list[tuple[object, ...]]:
    groundcode = open_groundcode(settings_of(deployment))
    try:
        with groundcode.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query))]
    finally:
        groundcode.close()
