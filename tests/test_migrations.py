"""The Alembic migrations build exactly the schema the SQLAlchemy tables declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from groundcode.storage.tables import Base


def test_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
