"""memos: project, source, code and coding memos and a journal, every version kept

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 00:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import groundcode.storage.tables

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memos",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("memo_id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("written_at", groundcode.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("memo_id", "version", name="uq_memos_memo_version"),
    )
    op.create_index("ix_memos_project_kind", "memos", ["project_id", "kind", "subject_id"])


def downgrade() -> None:
    op.drop_index("ix_memos_project_kind", table_name="memos")
    op.drop_table("memos")
