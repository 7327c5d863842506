"""case notes, never edited or deleted

Revision ID: 0014_notes
Revises: 0013_practitioners
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0014_notes"
down_revision: str | Sequence[str] | None = "0013_practitioners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("for_reps", sa.Boolean(), nullable=False),
        sa.Column("corrects_id", sa.Uuid(), nullable=True),
        sa.Column("written_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("written_by_client_id", sa.Uuid(), nullable=True),
        sa.Column("written_by_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("written_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["rj_case.id"]),
        sa.ForeignKeyConstraint(["corrects_id"], ["case_note.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_note_case_written", "case_note", ["case_id", "written_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_note_case_written", table_name="case_note")
    op.drop_table("case_note")
