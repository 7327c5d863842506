"""participants' feedback: one set of answers per party and stage

Revision ID: 0017_feedback
Revises: 0016_supervision
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.db

revision: str = "0017_feedback"
down_revision: str | Sequence[str] | None = "0016_supervision"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("party_role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("felt_heard", sa.Integer(), nullable=False),
        sa.Column("felt_safe", sa.Integer(), nullable=False),
        sa.Column("would_recommend", sa.Integer(), nullable=False),
        sa.Column("comment", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("collected_by_client_id", sa.Uuid(), nullable=True),
        sa.Column("collected_by_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("collected_by_rep_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["rj_case.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("party_id", "stage", name="uq_feedback_party_stage"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_feedback_recorded", ["recorded_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_recorded")
        batch_op.drop_index(batch_op.f("ix_feedback_case_id"))
    op.drop_table("feedback")
