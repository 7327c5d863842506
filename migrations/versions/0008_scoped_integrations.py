"""webhook subscriptions and inbound events within a caseload; inbound events once per sender

Revision ID: 0008_scoped_integrations
Revises: 0007_task_list_indexes

A subscription now belongs to prisons: every prison (`all_prisons`) or those in
`webhook_subscription_prison`. One made before belongs to every prison only if its creator's key
was of every prison, else to the prisons of its creator's key (a creator no longer known: to no
prison, so it receives nothing and only admins of every prison see it). Deliveries still waiting
of events outside a subscription's prisons are cancelled.

An inbound event now has the prison it is about (`prison_id`): an incident report's, from the case
made of it (else the event's `location`); another event's `prisonId`. It is received once per
sender: the unique key is (sender, dedupe key), no longer the dedupe key alone.
"""

import re
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_scoped_integrations"
down_revision: str | Sequence[str] | None = "0007_task_list_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRISON_ID = re.compile(r"^[A-Z]{3}$")
INCIDENT_REPORT_CREATED = "incident.report.created"
BATCH = 1000
# 0003 made the dedupe key unique without a name: PostgreSQL named it so; on SQLite, the batch
# copy of the table names it by this convention.
PG_DEDUPE_UNIQUE = "inbound_event_dedupe_key_key"
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}

subscription = sa.table(
    "webhook_subscription",
    sa.column("id", sa.Uuid()),
    sa.column("created_by_client_id", sa.Uuid()),
    sa.column("all_prisons", sa.Boolean()),
)
subscription_prison = sa.table(
    "webhook_subscription_prison",
    sa.column("subscription_id", sa.Uuid()),
    sa.column("prison_id", sa.String()),
)
client = sa.table(
    "api_client",
    sa.column("id", sa.Uuid()),
    sa.column("prisons", sa.JSON()),
    sa.column("all_prisons", sa.Boolean()),
)
delivery = sa.table(
    "webhook_delivery",
    sa.column("subscription_id", sa.Uuid()),
    sa.column("event_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("claimed_until", sa.DateTime()),
    sa.column("claimed_by", sa.String()),
)
outbox = sa.table("outbox_event", sa.column("event_id", sa.Uuid()), sa.column("prison_id", sa.String()))
inbound = sa.table(
    "inbound_event",
    sa.column("id", sa.Uuid()),
    sa.column("event_type", sa.String()),
    sa.column("payload", sa.JSON()),
    sa.column("case_ids", sa.JSON()),
    sa.column("prison_id", sa.String()),
)
case = sa.table("rj_case", sa.column("id", sa.Uuid()), sa.column("prison_id", sa.String()))


def upgrade() -> None:
    bind = op.get_bind()
    # A column added in place (SQLite too): a copy of the table, as batch mode makes, would have
    # to drop one that deliveries refer to.
    op.add_column(
        "webhook_subscription", sa.Column("all_prisons", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "webhook_subscription_prison",
        sa.Column("subscription_id", sa.Uuid(), nullable=False),
        sa.Column("prison_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.ForeignKeyConstraint(["subscription_id"], ["webhook_subscription.id"]),
        sa.PrimaryKeyConstraint("subscription_id", "prison_id"),
    )
    _subscriptions_to_their_creators_prisons(bind)
    _cancel_deliveries_outside_their_prisons(bind)

    on_sqlite = bind.dialect.name == "sqlite"
    if not on_sqlite:
        op.drop_constraint(PG_DEDUPE_UNIQUE, "inbound_event", type_="unique")
    with op.batch_alter_table(
        "inbound_event", naming_convention=SQLITE_NAMES if on_sqlite else None
    ) as batch_op:
        batch_op.add_column(sa.Column("prison_id", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True))
        if on_sqlite:
            batch_op.drop_constraint("uq_inbound_event_dedupe_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_inbound_event_sender_dedupe", ["sender_client_id", "dedupe_key"]
        )
        batch_op.create_index("ix_inbound_event_prison", ["prison_id", "received_at"], unique=False)
    _inbound_events_to_their_prisons(bind)


def _subscriptions_to_their_creators_prisons(bind: sa.Connection) -> None:
    rows = bind.execute(
        sa.select(subscription.c.id, client.c.prisons, client.c.all_prisons).select_from(
            subscription.outerjoin(client, client.c.id == subscription.c.created_by_client_id)
        )
    ).all()
    national = [sid for sid, _prisons, every in rows if every]
    if national:
        bind.execute(sa.update(subscription).where(subscription.c.id.in_(national)).values(all_prisons=True))
    caseloads = [
        {"subscription_id": sid, "prison_id": prison}
        for sid, prisons, every in rows
        if not every
        for prison in sorted(set(prisons or []))
    ]
    if caseloads:
        bind.execute(sa.insert(subscription_prison), caseloads)


def _cancel_deliveries_outside_their_prisons(bind: sa.Connection) -> None:
    within = (
        sa.select(sa.literal(1))
        .select_from(outbox.join(subscription_prison, subscription_prison.c.prison_id == outbox.c.prison_id))
        .where(
            outbox.c.event_id == delivery.c.event_id,
            subscription_prison.c.subscription_id == delivery.c.subscription_id,
        )
        .exists()
    )
    national = sa.select(subscription.c.id).where(subscription.c.all_prisons.is_(True))
    bind.execute(
        sa.update(delivery)
        .where(delivery.c.status == "pending", delivery.c.subscription_id.not_in(national), ~within)
        .values(status="cancelled", claimed_until=None, claimed_by=None)
    )


def _inbound_events_to_their_prisons(bind: sa.Connection) -> None:
    last: uuid.UUID | None = None
    while True:
        page = sa.select(inbound.c.id, inbound.c.event_type, inbound.c.payload, inbound.c.case_ids)
        if last is not None:
            page = page.where(inbound.c.id > last)
        rows = bind.execute(page.order_by(inbound.c.id).limit(BATCH)).all()
        if not rows:
            return
        last = rows[-1][0]
        prisons = {i: _named_prison(t, p) for i, t, p, _ in rows}
        made = {i: _uuid(c[0]) for i, t, _, c in rows if t == INCIDENT_REPORT_CREATED and c}
        found = [m for m in made.values() if m is not None]
        if found:
            of_case = dict(
                bind.execute(sa.select(case.c.id, case.c.prison_id).where(case.c.id.in_(found))).all()
            )
            for inbound_id, case_id in made.items():
                prisons[inbound_id] = of_case.get(case_id) or prisons[inbound_id]
        named = [{"inbound_id": i, "prison": p} for i, p in prisons.items() if p is not None]
        if named:
            bind.execute(
                sa.update(inbound)
                .where(inbound.c.id == sa.bindparam("inbound_id"))
                .values(prison_id=sa.bindparam("prison")),
                named,
            )


def _named_prison(event_type: str, payload: Any) -> str | None:
    info = payload.get("additionalInformation") if isinstance(payload, dict) else None
    if not isinstance(info, dict):
        return None
    value = info.get("location" if event_type == INCIDENT_REPORT_CREATED else "prisonId")
    return value if isinstance(value, str) and PRISON_ID.match(value) else None


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def downgrade() -> None:
    on_sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("inbound_event") as batch_op:
        batch_op.drop_index("ix_inbound_event_prison")
        batch_op.drop_constraint("uq_inbound_event_sender_dedupe", type_="unique")
        batch_op.drop_column("prison_id")
        # Fails while two senders' events share a dedupe key: one of each pair must go first.
        batch_op.create_unique_constraint(
            "uq_inbound_event_dedupe_key" if on_sqlite else PG_DEDUPE_UNIQUE, ["dedupe_key"]
        )
    op.drop_table("webhook_subscription_prison")
    with op.batch_alter_table("webhook_subscription") as batch_op:
        batch_op.drop_column("all_prisons")
