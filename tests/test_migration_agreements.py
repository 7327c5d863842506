"""The agreements migration on rows written before it: each conference's items become one
agreement (nobody recorded as agreeing: it was not asked then), pending and not yet announced
overdue; parties want outcome updates; and it goes back down."""

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db import UTCDateTime
from app.migrate import upgrade
from tests.conftest import database_at, downgrade

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
BEFORE = "0017_feedback"

# The tables it changes, as they were before it.
CASE = sa.table(
    "rj_case",
    *(
        sa.column(name, sa.String())
        for name in ("reference", "prison_id", "state", "category", "source_system", "source_reference")
    ),
    sa.column("referred_by", sa.String()),
    sa.column("audit_head", sa.String()),
    sa.column("id", sa.Uuid()),
    sa.column("version", sa.Integer()),
    sa.column("audit_seq", sa.Integer()),
    sa.column("legal_hold", sa.Boolean()),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)
PARTY = sa.table(
    "party",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("prisoner_number", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("created_at", UTCDateTime()),
)
CONFERENCE = sa.table(
    "conference",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("scheduled_at", UTCDateTime()),
    sa.column("location", sa.String()),
    sa.column("facilitator_id", sa.Uuid()),
    sa.column("supporting_rep_ids", sa.JSON()),
    sa.column("keep_apart_checked_by_hand", sa.Boolean()),
    sa.column("expected_attendees", sa.JSON()),
    sa.column("held", sa.Boolean()),
    sa.column("attendees", sa.JSON()),
    sa.column("outcome_recorded_at", UTCDateTime()),
    sa.column("created_at", UTCDateTime()),
)
ITEM = sa.table(
    "agreement_item",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("conference_id", sa.Uuid()),
    sa.column("position", sa.Integer()),
    sa.column("description", sa.String()),
    sa.column("owner_party_id", sa.Uuid()),
    sa.column("due_on", sa.Date()),
    sa.column("status", sa.String()),
    sa.column("created_at", UTCDateTime()),
)


@pytest.fixture
async def before(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, at the revision before the migration."""
    async with database_at(database_url, BEFORE, tmp_path) as url:
        yield url


async def test_earlier_conference_items_become_an_agreement_and_it_goes_back(before: str) -> None:
    case_id, party_id, conference_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    items = [uuid.uuid4(), uuid.uuid4()]
    engine = create_async_engine(before)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(CASE),
                {
                    "id": case_id,
                    "reference": "MDI-RJ-000001",
                    "prison_id": "MDI",
                    "state": "follow_up",
                    "version": 4,
                    "category": "assault",
                    "source_system": "TEST",
                    "source_reference": "R-1",
                    "referred_by": "Officer Smith",
                    "audit_seq": 4,
                    "audit_head": "",
                    "created_at": AT,
                    "updated_at": AT,
                    "legal_hold": False,
                },
            )
            await conn.execute(
                sa.insert(PARTY),
                {
                    "id": party_id,
                    "case_id": case_id,
                    "prisoner_number": "A1234BC",
                    "first_name": "Dean",
                    "last_name": "Walsh",
                    "role": "harmer",
                    "created_at": AT,
                },
            )
            await conn.execute(
                sa.insert(CONFERENCE),
                {
                    "id": conference_id,
                    "case_id": case_id,
                    "scheduled_at": AT,
                    "location": "Chapel",
                    "facilitator_id": uuid.uuid4(),
                    "supporting_rep_ids": [],
                    "keep_apart_checked_by_hand": True,
                    "expected_attendees": [],
                    "held": True,
                    "attendees": [],
                    "outcome_recorded_at": AT,
                    "created_at": AT,
                },
            )
            for n, item_id in enumerate(items, start=1):
                await conn.execute(
                    sa.insert(ITEM),
                    {
                        "id": item_id,
                        "case_id": case_id,
                        "conference_id": conference_id,
                        "position": n,
                        "description": f"Commitment {n}",
                        "owner_party_id": party_id,
                        "due_on": date(2026, 12, 1),
                        "status": "pending",
                        "created_at": AT,
                    },
                )
    finally:
        await engine.dispose()

    await upgrade(Settings(database_url=before))

    engine = create_async_engine(before)
    try:
        async with engine.connect() as conn:
            agreements = (
                await conn.execute(sa.text("SELECT id, conference_id, made_in, agreed_by FROM agreement"))
            ).all()
            linked = (
                await conn.execute(sa.text("SELECT agreement_id, overdue_notified FROM agreement_item"))
            ).all()
            wants = (await conn.execute(sa.text("SELECT outcome_updates FROM party"))).scalar_one()
            attended = (await conn.execute(sa.text("SELECT attended_party_ids FROM conference"))).scalar_one()
    finally:
        await engine.dispose()
    [(agreement_id, linked_conference, made_in, agreed_by)] = agreements
    assert uuid.UUID(str(linked_conference)) == conference_id and made_in == "conference"
    assert agreed_by in ([], "[]")
    assert {(str(a), bool(o)) for a, o in linked} == {(str(agreement_id), False)}
    assert wants in (True, 1)
    assert attended in ([], "[]")

    await downgrade(before, BEFORE)
    engine = create_async_engine(before)
    try:
        async with engine.connect() as conn:
            left = (await conn.execute(sa.text("SELECT count(*) FROM agreement_item"))).scalar_one()
    finally:
        await engine.dispose()
    assert left == 2
