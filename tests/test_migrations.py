"""The Alembic migrations build exactly the schema the SQLAlchemy tables declare, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from groundcode.storage.database import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    create_database_engine,
    downgrade_to,
    migrate,
    schema_revision,
)
from groundcode.storage.tables import Base


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_head_revision_a_database_is_checked_against_is_the_newest_migration(engine: Engine) -> None:
    scripts = ScriptDirectory.from_config(_config())
    assert scripts.get_current_head() == HEAD_REVISION
    assert schema_revision(engine) == HEAD_REVISION


def test_a_database_behind_the_head_is_migrated_and_one_never_created_has_no_revision(tmp_path: Path) -> None:
    engine = create_database_engine(f"sqlite:///{tmp_path / 'groundcode.db'}")
    assert schema_revision(engine) is None
    migrate(engine)
    downgrade_to(engine, "0007")
    assert schema_revision(engine) == "0007"
    migrate(engine)
    assert schema_revision(engine) == HEAD_REVISION
    engine.dispose()


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config
