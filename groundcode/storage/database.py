"""Engine creation and schema migrations for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HEAD_REVISION = "0009"
"""The newest migration in ``MIGRATIONS_DIR`` (a test holds the two together): a database already there is
recognised with one query, without loading Alembic, so that every command starts quickly."""
_MIGRATION_LOCK_KEY = 0x67726F756E64  # "ground": any constant shared by every groundcode process


def create_database_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        database_file = sqlite_file(url)
        if database_file is not None:
            database_file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    return create_engine(url, pool_pre_ping=True)


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite ``url``; None for an in-memory or a server database."""
    if not url.startswith("sqlite"):
        return None
    database_path = url.split("///", 1)[-1]
    return Path(database_path) if database_path and database_path != ":memory:" else None


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the API, progress bars) run while a worker writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (safe to call on every start, by many processes)."""
    if schema_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    _run_migrations(engine, command.upgrade, "head")


def schema_revision(engine: Engine) -> str | None:
    """The database's Alembic revision; None for a database groundcode has not created yet."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no alembic_version table
        return None


def downgrade_to(engine: Engine, revision: str) -> None:
    """Take the schema back to an older Alembic revision (tests of a migration's data step)."""
    from alembic import command

    _run_migrations(engine, command.downgrade, revision)


def _run_migrations(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _migration_lock(engine), engine.begin() as connection:
        config.attributes["connection"] = connection
        step(config, revision)


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations: workers of a scaled-out deployment start (and migrate) at the same time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                connection.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with FileLock(f"{database}.migrate-lock"):  # portable: Windows has no fcntl
        yield


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error (so no half-written rows)."""
    with sessions.begin() as session:
        yield session
