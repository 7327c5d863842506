"""the responsibility ledger, who recorded each consent, and each party's follow-up

Revision ID: 0011_responsibility
Revises: 0010_provable_redaction
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy import text

import app.db

revision: str = "0011_responsibility"
down_revision: str | Sequence[str] | None = "0010_provable_redaction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each consent recorded so far takes the role its recorder had then, from the actor of the
# consent's own audit record (the same chain and seq); a practitioner's record of a face-to-face
# consent still counts. A consent whose record is gone (a purged case) keeps no role.
ROLE_FROM_AUDIT = {
    "postgresql": (
        "UPDATE consent SET recorded_by_role = a.actor->>'role' FROM audit_record a "
        "WHERE a.chain = consent.case_id::text AND a.seq = consent.audit_seq"
    ),
    # SQLite keeps a uuid as its 32 hex digits; a chain is named by the case id's text.
    "sqlite": (
        "UPDATE consent SET recorded_by_role = (SELECT json_extract(a.actor, '$.role') "
        "FROM audit_record a WHERE replace(a.chain, '-', '') = consent.case_id "
        "AND a.seq = consent.audit_seq)"
    ),
}


def upgrade() -> None:
    op.create_table(
        "responsibility",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("recorded_by_client_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("recorded_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("audit_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["rj_case.id"]),
        sa.ForeignKeyConstraint(["party_id"], ["party.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("responsibility", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_responsibility_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_responsibility_party_id"), ["party_id"], unique=False)
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("recorded_by_role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
    with op.batch_alter_table("party", schema=None) as batch_op:
        batch_op.add_column(sa.Column("follow_up", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
    bind = op.get_bind()
    op.execute(text(ROLE_FROM_AUDIT[bind.dialect.name]))


def downgrade() -> None:
    # Dropped in place (SQLite has ALTER TABLE ... DROP COLUMN): a table rebuilt by batch mode
    # would be dropped first, which the rows referring to a party or consent forbid.
    op.drop_column("party", "follow_up")
    op.drop_column("consent", "recorded_by_role")
    with op.batch_alter_table("responsibility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responsibility_party_id"))
        batch_op.drop_index(batch_op.f("ix_responsibility_case_id"))
    op.drop_table("responsibility")
