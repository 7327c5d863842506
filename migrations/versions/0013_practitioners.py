"""practitioners known through the prisons' identity provider

Revision ID: 0013_practitioners
Revises: 0012_ending_work
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0013_practitioners"
down_revision: str | Sequence[str] | None = "0012_ending_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signed_in_practitioner",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("prisons", sa.JSON(), nullable=False),
        sa.Column("all_prisons", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("signed_in_practitioner")
