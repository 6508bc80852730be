"""The scaled-out topology with the real chunk stage: worker processes on Redis Streams and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundcode.app import open_groundcode
from groundcode.cli import app
from groundcode.settings import Settings

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def scaled_out_env(
    postgres_url: str, redis_url: str, queue_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    env = {
        "DATABASE_URL": postgres_url,
        "GROUNDCODE_QUEUE": "redis",
        "GROUNDCODE_REDIS_URL": redis_url,
        "GROUNDCODE_QUEUE_PREFIX": queue_prefix,
        "GROUNDCODE_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return env


@pytest.fixture
def workers(scaled_out_env: dict[str, str], tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Two chunk workers, one index worker and one suggest worker in their own processes, started together
    (so they migrate concurrently). One index worker, because embedded Chroma serves one process at a time;
    the suggest worker never opens Chroma here (there is no codebook, so there is nothing to retrieve)."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "groundcode", "worker", "--stage", stage],
            env={**os.environ, **scaled_out_env},
            stdout=(tmp_path / f"worker-{index}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for index, stage in enumerate(["chunk", "chunk", "index", "suggest"])
    ]
    try:
        yield processes
    finally:
        for process in processes:
            process.kill()
            process.wait(10)


def test_import_is_chunked_and_indexed_by_separate_worker_processes(
    workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    files = []
    for index in range(8):
        path = tmp_path / f"interview-{index}.txt"
        path.write_text(
            f"Interviewer: Question {index}?\nP{index}: First answer. Second answer, e.g. 3.5 days.\n",
            encoding="utf-8",
        )
        files.append(str(path))
    result = CliRunner().invoke(app, ["import", *files, "--unit", "sentence"])
    assert result.exit_code == 0, result.output
    assert all(process.poll() is None for process in workers), "a worker died"

    groundcode = open_groundcode(Settings())
    try:
        project = groundcode.repository.get_project("default")
        counts = groundcode.repository.segment_counts(project.id)
        assert sorted(counts.values()) == [3] * 8
        assert groundcode.work_items.counts() == {
            ("chunk", "done"): 8,
            ("index", "done"): 8,
            ("suggest", "done"): 8,
        }
    finally:
        groundcode.close()
