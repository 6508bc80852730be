"""Fixtures for the work-queue contract tests: every test runs on both queue backends."""

from __future__ import annotations

import pytest
from queue_test_support import make_settings
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from groundcode.settings import Settings
from groundcode.storage.database import session_factory
from groundcode.storage.work_items import WorkItemStore


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def queue_settings(database_url: str, backend: str, redis_url: str, queue_prefix: str) -> Settings:
    return make_settings(database_url, backend, redis_url, queue_prefix)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def store(sessions: sessionmaker[Session]) -> WorkItemStore:
    return WorkItemStore(sessions)
