"""suggestion scope: a blind coder's own suggestions, learnt from that coder's decisions only

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.add_column(sa.Column("coder_id", sa.String(length=36), nullable=True))
        batch.create_index("ix_suggestions_coder_id", ["coder_id"])


def downgrade() -> None:
    with op.batch_alter_table("suggestions") as batch:
        batch.drop_index("ix_suggestions_coder_id")
        batch.drop_column("coder_id")
