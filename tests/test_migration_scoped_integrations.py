"""0008_scoped_integrations on rows written before it: subscriptions take their creator's
prisons, deliveries outside them are cancelled, inbound events take the prison they are about."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import UTCDateTime
from app.migrate import upgrade
from app.models.auth import ApiClient
from app.models.cases import Case
from app.models.events import OutboxEvent
from app.models.webhooks import WebhookDelivery
from tests.conftest import database_at

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

# The two tables 0008 changes, as 0007 left them.
SUBSCRIPTION = sa.table(
    "webhook_subscription",
    sa.column("id", sa.Uuid()),
    sa.column("url", sa.String()),
    sa.column("event_types", sa.JSON()),
    sa.column("secret", sa.String()),
    sa.column("active", sa.Boolean()),
    sa.column("created_by_client_id", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
)
INBOUND = sa.table(
    "inbound_event",
    sa.column("id", sa.Uuid()),
    sa.column("dedupe_key", sa.String()),
    sa.column("event_id", sa.String()),
    sa.column("event_type", sa.String()),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("payload", sa.JSON()),
    sa.column("sender_client_id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("attempts", sa.Integer()),
    sa.column("case_ids", sa.JSON()),
    sa.column("received_at", UTCDateTime()),
)


@pytest.fixture
async def at_0007(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, migrated to 0007."""
    async with database_at(database_url, "0007_task_list_indexes", tmp_path) as url:
        yield url


def client(prisons: list[str]) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "name": "an admin",
        "role": "admin",
        "prisons": prisons,
        "all_prisons": not prisons,
        "rep_id": None,
        "key_hash": uuid.uuid4().hex,
        "active": True,
        "created_at": AT,
    }


def subscription(creator: uuid.UUID | None) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "url": "https://93.184.216.34/hook",
        "event_types": ["restorative-justice.case.created"],
        "secret": "whsec_x",
        "active": True,
        "created_by_client_id": creator,
        "created_at": AT,
    }


def outbox(prison: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "event_type": "restorative-justice.case.created",
        "prison_id": prison,
        "payload": {},
        "created_at": AT,
        "feed_seq": None,
    }


def delivery(subscription_id: uuid.UUID, event_id: uuid.UUID) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "subscription_id": subscription_id,
        "event_id": event_id,
        "event_type": "restorative-justice.case.created",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": AT,
        "created_at": AT,
    }


def inbound(event_type: str, info: dict[str, Any], case_ids: list[str], sender: uuid.UUID) -> dict[str, Any]:
    event_id = uuid.uuid4().hex
    return {
        "id": uuid.uuid4(),
        "dedupe_key": f"id:{event_id}",
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": AT,
        "payload": {"eventType": event_type, "additionalInformation": info},
        "sender_client_id": sender,
        "status": "processed",
        "attempts": 1,
        "case_ids": case_ids,
        "received_at": AT,
    }


def lei_case() -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "reference": "LEI-RJ-000001",
        "prison_id": "LEI",
        "state": "referred",
        "version": 1,
        "category": "assault",
        "source_system": "IRS",
        "source_reference": "1",
        "referred_by": "IRS",
        "audit_seq": 0,
        "audit_head": "",
        "created_at": AT,
        "updated_at": AT,
        "legal_hold": False,
    }


class TestScopedIntegrationsMigration:
    async def test_rows_written_before_take_the_prisons_they_belong_to(self, at_0007: str) -> None:
        national, mdi = client([]), client(["MDI", "BXI"])
        of_national, of_mdi, of_nobody = (
            subscription(national["id"]),
            subscription(mdi["id"]),
            subscription(None),
        )
        at_mdi, at_lei = outbox("MDI"), outbox("LEI")
        case = lei_case()
        release = inbound("prison-offender-events.prisoner.released", {"prisonId": "LEI"}, [], mdi["id"])
        report = inbound("incident.report.created", {"location": "MDI"}, [str(case["id"])], mdi["id"])
        unmade = inbound("incident.report.created", {"location": "BXI"}, [], mdi["id"])
        other = inbound("prison.something.else", {"prisonId": "nowhere"}, [], mdi["id"])
        deliveries = [
            delivery(of_mdi["id"], at_mdi["event_id"]),
            delivery(of_mdi["id"], at_lei["event_id"]),
            delivery(of_national["id"], at_lei["event_id"]),
        ]
        engine = create_async_engine(at_0007)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(ApiClient.__table__), [national, mdi])  # type: ignore[arg-type]
                await conn.execute(sa.insert(SUBSCRIPTION), [of_national, of_mdi, of_nobody])
                await conn.execute(sa.insert(OutboxEvent.__table__), [at_mdi, at_lei])  # type: ignore[arg-type]
                await conn.execute(sa.insert(WebhookDelivery.__table__), deliveries)  # type: ignore[arg-type]
                await conn.execute(sa.insert(Case.__table__), [case])  # type: ignore[arg-type]
                await conn.execute(sa.insert(INBOUND), [release, report, unmade, other])
            await upgrade(Settings(database_url=at_0007))
            async with engine.connect() as conn:
                every = dict(
                    (await conn.execute(sa.text("SELECT id, all_prisons FROM webhook_subscription"))).all()
                )
                prisons = (
                    await conn.execute(
                        sa.text(
                            "SELECT subscription_id, prison_id FROM webhook_subscription_prison "
                            "ORDER BY prison_id"
                        )
                    )
                ).all()
                statuses = dict(
                    (await conn.execute(sa.text("SELECT id, status FROM webhook_delivery"))).all()
                )
                about = dict((await conn.execute(sa.text("SELECT id, prison_id FROM inbound_event"))).all())
        finally:
            await engine.dispose()

        def key(value: uuid.UUID) -> Any:
            # SQLite keeps a uuid as 32 hex digits; PostgreSQL as a uuid.
            return value.hex if at_0007.startswith("sqlite") else value

        assert {k: bool(v) for k, v in every.items()} == {
            key(of_national["id"]): True,
            key(of_mdi["id"]): False,
            key(of_nobody["id"]): False,
        }
        assert prisons == [(key(of_mdi["id"]), "BXI"), (key(of_mdi["id"]), "MDI")]
        assert [statuses[key(d["id"])] for d in deliveries] == ["pending", "cancelled", "pending"]
        assert [about[key(r["id"])] for r in (release, report, unmade, other)] == ["LEI", "LEI", "BXI", None]

    async def test_the_same_event_id_from_two_senders_is_two_events_afterwards(self, at_0007: str) -> None:
        first, second = client(["MDI"]), client(["MDI"])
        engine = create_async_engine(at_0007)
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(ApiClient.__table__), [first, second])  # type: ignore[arg-type]
            await upgrade(Settings(database_url=at_0007))
            one = inbound("x.y.z", {}, [], first["id"])
            async with engine.begin() as conn:
                await conn.execute(
                    sa.insert(INBOUND), [one, {**one, "id": uuid.uuid4(), "sender_client_id": second["id"]}]
                )
            with pytest.raises(sa.exc.IntegrityError):
                async with engine.begin() as conn:
                    await conn.execute(sa.insert(INBOUND), [{**one, "id": uuid.uuid4()}])
        finally:
            await engine.dispose()
