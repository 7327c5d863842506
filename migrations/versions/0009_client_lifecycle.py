"""API clients can be revoked and their keys rotated

Revision ID: 0009_client_lifecycle
Revises: 0008_scoped_integrations
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0009_client_lifecycle"
down_revision: str | Sequence[str] | None = "0008_scoped_integrations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", app.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("previous_key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("previous_key_expires_at", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_api_client_previous_key_hash"), ["previous_key_hash"], unique=True)
    op.create_table(
        "api_client_generation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("api_client_generation")
    with op.batch_alter_table("api_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_client_previous_key_hash"))
        batch_op.drop_column("previous_key_expires_at")
        batch_op.drop_column("previous_key_hash")
        batch_op.drop_column("revoked_at")
