"""The responsibility migration on rows written before it: each consent takes the role its
recorder had, from the actor of its own audit record, so a practitioner's face-to-face consent
still counts; parties keep the default follow-up."""

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
from app.models.audit import AuditRecord
from app.models.cases import Case
from tests.conftest import database_at

AT = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
# The revision before the migration.
BEFORE = "0010_provable_redaction"

# The two tables it changes, as they were before it.
PARTY = sa.table(
    "party",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("prisoner_number", sa.String()),
    sa.column("first_name", sa.String()),
    sa.column("last_name", sa.String()),
    sa.column("role", sa.String()),
    sa.column("location", sa.String()),
    sa.column("created_at", UTCDateTime()),
)
CONSENT = sa.table(
    "consent",
    sa.column("id", sa.Uuid()),
    sa.column("case_id", sa.Uuid()),
    sa.column("party_id", sa.Uuid()),
    sa.column("scope", sa.String()),
    sa.column("given", sa.Boolean()),
    sa.column("method", sa.String()),
    sa.column("recorded_by", sa.String()),
    sa.column("recorded_by_client_id", sa.Uuid()),
    sa.column("recorded_at", UTCDateTime()),
    sa.column("audit_seq", sa.Integer()),
)


@pytest.fixture
async def before(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, at the revision before the migration."""
    async with database_at(database_url, BEFORE, tmp_path) as url:
        yield url


def audit_row(case_id: uuid.UUID, seq: int, role: str) -> dict[str, Any]:
    return {
        "chain": str(case_id),
        "seq": seq,
        "case_id": case_id,
        "occurred_at": AT,
        "request_id": None,
        "actor": {"clientId": None, "name": f"a {role}", "role": role, "repId": None},
        "action": "consent.recorded",
        "entity_type": "consent",
        "entity_id": None,
        "before": None,
        "after": {"scope": "direct"},
        "content_hash": "0" * 64,
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
        "redacted": False,
    }


async def test_each_consent_takes_its_recorders_role_from_its_audit_record(before: str) -> None:
    case_id, party_id = uuid.uuid4(), uuid.uuid4()
    consents = {seq: uuid.uuid4() for seq in (2, 3, 4)}
    engine = create_async_engine(before)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(Case.__table__),  # type: ignore[attr-defined]
                {
                    "id": case_id,
                    "reference": "MDI-RJ-000001",
                    "prison_id": "MDI",
                    "state": "assessment",
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
                    "role": "harmed",
                    "location": None,
                    "created_at": AT,
                },
            )
            # A practitioner's record, a rep's, and one whose audit record is gone (seq 4).
            for seq, role in ((2, "practitioner"), (3, "rep")):
                await conn.execute(sa.insert(AuditRecord.__table__), audit_row(case_id, seq, role))  # type: ignore[attr-defined]
            for seq, consent_id in consents.items():
                await conn.execute(
                    sa.insert(CONSENT),
                    {
                        "id": consent_id,
                        "case_id": case_id,
                        "party_id": party_id,
                        "scope": "direct",
                        "given": True,
                        "method": "in_person",
                        "recorded_by": "Helen Ashworth",
                        "recorded_by_client_id": None,
                        "recorded_at": AT,
                        "audit_seq": seq,
                    },
                )
    finally:
        await engine.dispose()

    await upgrade(Settings(database_url=before))

    engine = create_async_engine(before)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT audit_seq, recorded_by_role FROM consent"))
            roles = {seq: role for seq, role in rows}
            follow_up = (await conn.execute(sa.text("SELECT follow_up FROM party"))).scalar_one()
            entries = (await conn.execute(sa.text("SELECT count(*) FROM responsibility"))).scalar_one()
    finally:
        await engine.dispose()
    assert roles == {2: "practitioner", 3: "rep", 4: None}
    assert follow_up is None
    assert entries == 0
