"""Retrieval fixtures: the real bundled E5 model, embedded Chroma and a real Chroma server on loopback.

Hub downloads are switched off for the whole run; a library that tried one would fail loudly.
"""

from __future__ import annotations

import os

# Set before the imports below, so that no library has read them yet.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from groundcode.storage.database import session_factory
from groundcode.storage.repository import Repository
from services.retrieval.embeddings import LocalE5Embedder
from services.retrieval.vector_store import ChromaVectorStore
from tests.live_server import free_port
from tests.retrieval.support import CountingEmbedder


@pytest.fixture(scope="session")
def e5() -> LocalE5Embedder:
    """The bundled multilingual E5 model, loaded once."""
    return LocalE5Embedder()


@pytest.fixture
def embedder(e5: LocalE5Embedder) -> CountingEmbedder:
    return CountingEmbedder(e5)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real ``chroma run`` on a free loopback port for the session; yields ``(host, port)``."""
    host, port = "127.0.0.1", free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--path", str(path), "--host", host, "--port", str(port)]
    with (path / "server.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_heartbeat(f"http://{host}:{port}/api/v2/heartbeat", process)
        yield host, port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_heartbeat(url: str, process: subprocess.Popen[bytes], timeout_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the Chroma server did not answer within 30 s")


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaVectorStore:
    """Runs the test once on embedded Chroma and once against the Chroma server."""
    if request.param == "embedded":
        return ChromaVectorStore.persistent(tmp_path / "chroma")
    host, port = request.getfixturevalue("chroma_server")
    return ChromaVectorStore.http(host, port)


@pytest.fixture
def embedded_store(tmp_path: Path) -> ChromaVectorStore:
    return ChromaVectorStore.persistent(tmp_path / "chroma")


@pytest.fixture
def repository(engine: Engine) -> Repository:
    return Repository(session_factory(engine))


@pytest.fixture
def project_id(repository: Repository) -> str:
    return repository.ensure_project(f"study-{uuid.uuid4().hex[:8]}").id
