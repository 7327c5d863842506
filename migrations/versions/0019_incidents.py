"""incident reports kept per prisoner involved, and prisoners' movements, for the outcomes report

Revision ID: 0019_incidents
Revises: 0018_agreements
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0019_incidents"
down_revision: str | Sequence[str] | None = "0018_agreements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "incident_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_key", _text(80), nullable=False),
        sa.Column("prisoner_number", _text(7), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("prison_id", _text(3), nullable=False),
        sa.Column("family", _text(30), nullable=False),
        sa.Column("part", _text(20), nullable=False),
        sa.Column("incident_type", _text(60), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_key", "prisoner_number", name="uq_incident_record_report_prisoner"),
    )
    op.create_index(
        "ix_incident_record_prisoner_occurred", "incident_record", ["prisoner_number", "occurred_at"]
    )
    op.create_index(op.f("ix_incident_record_case_id"), "incident_record", ["case_id"])
    op.create_table(
        "prisoner_movement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("prisoner_number", _text(7), nullable=False),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("direction", _text(3), nullable=False),
        sa.Column("reason", _text(60), nullable=True),
        sa.Column("prison_id", _text(3), nullable=True),
        sa.Column("inbound_event_id", sa.Uuid(), nullable=True),
        sa.Column("received_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("inbound_event_id", "prisoner_number", name="uq_prisoner_movement_event"),
    )
    op.create_index(
        "ix_prisoner_movement_prisoner_at", "prisoner_movement", ["prisoner_number", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_prisoner_movement_prisoner_at", table_name="prisoner_movement")
    op.drop_table("prisoner_movement")
    op.drop_index(op.f("ix_incident_record_case_id"), table_name="incident_record")
    op.drop_index("ix_incident_record_prisoner_occurred", table_name="incident_record")
    op.drop_table("incident_record")
