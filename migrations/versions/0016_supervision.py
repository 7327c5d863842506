"""supervision sessions of reps

Revision ID: 0016_supervision
Revises: 0015_contact_void
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0016_supervision"
down_revision: str | Sequence[str] | None = "0015_contact_void"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rep_supervision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rep_id", sa.Uuid(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("supervisor", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("supervisor_id", sa.Uuid(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["rep.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rep_supervision_rep_on", "rep_supervision", ["rep_id", "on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_rep_supervision_rep_on", table_name="rep_supervision")
    op.drop_table("rep_supervision")
