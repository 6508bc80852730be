"""Shared fixtures: real SQLite files and a real PostgreSQL database, real Redis on loopback.

PostgreSQL and Redis are the machine's own servers (see `.ci/run`, which starts them).
Override with GROUNDCODE_TEST_POSTGRES_URL / GROUNDCODE_TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from groundcode.settings import Settings
from groundcode.storage.database import create_database_engine, migrate

POSTGRES_ADMIN_URL = os.environ.get(
    "GROUNDCODE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("GROUNDCODE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"groundcode_test_{uuid.uuid4().hex[:12]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'groundcode.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine on each backend."""
    engine = create_database_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The loopback Redis (test database 15), cleaned of this test's keys afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield REDIS_URL
    client.close()


@pytest.fixture
def queue_prefix(redis_url: str) -> Iterator[str]:
    """A unique stream-name prefix per test, so parallel or repeated runs never share messages."""
    prefix = f"gctest-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Embedded-default settings pointing at the test database."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url)
