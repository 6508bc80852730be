"""review marks: where each coder's review of each segment stands, kept with the decisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 18:20:00.000000
"""

from collections.abc import Sequence
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from groundcode.domain import Decision
from groundcode.state import review_mark

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    marks = op.create_table(
        "review_marks",
        sa.Column("project_id", sa.String(length=36), nullable=False),
        sa.Column("coder_id", sa.String(length=36), nullable=False),
        sa.Column("segment_id", sa.String(length=36), nullable=False),
        sa.Column("mark", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "coder_id", "segment_id"),
    )
    with op.batch_alter_table("decisions") as batch:
        batch.create_index("ix_decisions_undoes", ["undoes"])
    # The marks of the decisions already made, from the same fold the decision store applies.
    bind = op.get_bind()
    decisions = sa.Table("decisions", sa.MetaData(), autoload_with=bind)  # typed: JSON, times
    rows = bind.execute(
        sa.select(decisions)
        .where(decisions.c.segment_id.is_not(None))
        .order_by(decisions.c.project_id, decisions.c.coder_id, decisions.c.segment_id, decisions.c.seq)
    )
    found = []
    for (project_id, coder_id, segment_id), group in groupby(
        rows, key=lambda row: (row.project_id, row.coder_id, row.segment_id)
    ):
        history = [
            Decision.model_validate({k: v for k, v in row._mapping.items() if k != "seq"}) for row in group
        ]
        mark = review_mark(history, coder_id, segment_id)
        if mark is not None:
            found.append(
                {"project_id": project_id, "coder_id": coder_id, "segment_id": segment_id, "mark": mark}
            )
    if found:
        op.bulk_insert(marks, found)


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_undoes")
    op.drop_table("review_marks")
