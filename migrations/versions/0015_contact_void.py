"""a contact recorded in error is voided, never deleted

Revision ID: 0015_contact_void
Revises: 0014_notes
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0015_contact_void"
down_revision: str | Sequence[str] | None = "0014_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contact", sa.Column("voided_at", app.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column("contact", sa.Column("void_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column("contact", sa.Column("voided_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))


def downgrade() -> None:
    # Dropped in place (SQLite has ALTER TABLE ... DROP COLUMN), as 0012's columns are.
    op.drop_column("contact", "voided_by")
    op.drop_column("contact", "void_reason")
    op.drop_column("contact", "voided_at")
