"""agreements and who agreed to them; items monitored past closure; parties told the outcome

Revision ID: 0018_agreements
Revises: 0017_feedback

Task kinds are plain text columns (no database enum), so `agreement_check` and
`outcome_feedback` need no change here.
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import app.db

revision: str = "0018_agreements"
down_revision: str | Sequence[str] | None = "0017_feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("conference_id", sa.Uuid(), nullable=True),
        sa.Column("made_in", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("agreed_by", sa.JSON(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["rj_case.id"]),
        sa.ForeignKeyConstraint(["conference_id"], ["conference.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_agreement_case_id"), "agreement", ["case_id"], unique=False)
    op.add_column("conference", sa.Column("attended_party_ids", sa.JSON(), server_default="[]", nullable=False))
    op.add_column("task", sa.Column("agreement_item_id", sa.Uuid(), nullable=True))
    op.add_column("party", sa.Column("outcome_updates", sa.Boolean(), server_default=sa.true(), nullable=False))
    # Nothing refers to agreement_item, so SQLite may rebuild it to loosen conference_id.
    with op.batch_alter_table("agreement_item", schema=None) as batch_op:
        batch_op.alter_column("conference_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("agreement_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("overdue_notified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_foreign_key("fk_agreement_item_agreement_id", "agreement", ["agreement_id"], ["id"])
    _agreements_of_earlier_conferences()


def _agreements_of_earlier_conferences() -> None:
    """Each conference's items recorded before agreements were kept become one agreement, with
    nobody recorded as agreeing (it was not asked then)."""
    bind = op.get_bind()
    conference = sa.table(
        "conference",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("outcome_recorded_at", app.db.UTCDateTime(timezone=True)),
        sa.column("created_at", app.db.UTCDateTime(timezone=True)),
    )
    item = sa.table("agreement_item", sa.column("conference_id", sa.Uuid()), sa.column("agreement_id", sa.Uuid()))
    agreement = sa.table(
        "agreement",
        sa.column("id", sa.Uuid()),
        sa.column("case_id", sa.Uuid()),
        sa.column("conference_id", sa.Uuid()),
        sa.column("made_in", sa.String()),
        sa.column("agreed_by", sa.JSON()),
        sa.column("created_at", app.db.UTCDateTime(timezone=True)),
    )
    with_items = sa.select(item.c.conference_id).distinct()
    rows = bind.execute(
        sa.select(
            conference.c.id, conference.c.case_id, conference.c.outcome_recorded_at, conference.c.created_at
        ).where(conference.c.id.in_(with_items))
    ).all()
    for conference_id, case_id, recorded_at, created_at in rows:
        agreement_id = uuid.uuid4()
        bind.execute(
            agreement.insert().values(
                id=agreement_id,
                case_id=case_id,
                conference_id=conference_id,
                made_in="conference",
                agreed_by=[],
                created_at=recorded_at or created_at,
            )
        )
        bind.execute(
            item.update().where(item.c.conference_id == conference_id).values(agreement_id=agreement_id)
        )


def downgrade() -> None:
    op.execute("DELETE FROM agreement_item WHERE conference_id IS NULL")
    with op.batch_alter_table("agreement_item", schema=None) as batch_op:
        batch_op.drop_constraint("fk_agreement_item_agreement_id", type_="foreignkey")
        batch_op.drop_column("overdue_notified")
        batch_op.drop_column("agreement_id")
        batch_op.alter_column("conference_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_column("party", "outcome_updates")
    op.drop_column("task", "agreement_item_id")
    op.drop_column("conference", "attended_party_ids")
    op.drop_index(op.f("ix_agreement_case_id"), table_name="agreement")
    op.drop_table("agreement")
