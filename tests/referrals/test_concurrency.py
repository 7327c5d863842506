"""Concurrent duplicates: 50 identical referrals at once make one case and one creation record.

Several application instances, each with its own engine, send at the same time; every request has
its own session. On PostgreSQL this is real concurrency; on SQLite the one writer queues them.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.models.audit import AuditRecord
from app.models.cases import Case, Consent
from app.models.events import OutboxEvent
from tests.support import Api, Keys, referral_body

CONCURRENT = 50
INSTANCES = 3


@pytest.fixture
async def clients(db: Database, settings: Settings) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One HTTP client per application instance, each instance with an engine of its own."""
    databases = [db] + [Database(settings) for _ in range(INSTANCES - 1)]
    made = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, database=d)), base_url="http://rj.test"
        )
        for d in databases
    ]
    yield made
    for c in made:
        await c.aclose()
    for d in databases[1:]:
        await d.dispose()


async def send_all(
    clients: list[httpx.AsyncClient], path: str, body: Any, headers: dict[str, str]
) -> list[httpx.Response]:
    return await asyncio.gather(
        *(clients[i % len(clients)].post(path, json=body, headers=headers) for i in range(CONCURRENT))
    )


async def scalar(db: Database, statement: Any) -> int:
    async with db.transaction() as session:
        return int((await session.execute(statement)).scalar_one())


class TestConcurrentReferrals:
    async def test_fifty_identical_referrals_make_one_case(
        self, clients: list[httpx.AsyncClient], keys: Keys, db: Database
    ) -> None:
        body = referral_body(reference="INC-CONCURRENT-1")
        responses = await send_all(clients, "/referrals", body, keys.referrer.headers)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 200: CONCURRENT - 1}, [r.text for r in responses if r.status_code >= 300]
        assert len({r.json()["id"] for r in responses}) == 1
        assert await scalar(db, select(func.count()).select_from(Case)) == 1
        referred = (
            select(func.count()).select_from(AuditRecord).where(col(AuditRecord.action) == "case.referred")
        )
        assert await scalar(db, referred) == 1
        assert await scalar(db, select(func.count()).select_from(OutboxEvent)) == 1

    async def test_fifty_requests_with_one_idempotency_key_make_one_case(
        self, clients: list[httpx.AsyncClient], keys: Keys, db: Database
    ) -> None:
        body = referral_body(reference="INC-CONCURRENT-2")
        headers = {**keys.referrer.headers, "Idempotency-Key": "one-key-for-all"}
        responses = await send_all(clients, "/referrals", body, headers)
        statuses = Counter(r.status_code for r in responses)
        # Only the first runs: the others see it running (409) or get its response replayed (201).
        # A second run would have answered 200 (the referral existing): there is none.
        assert set(statuses) <= {201, 409}, statuses
        created = [r for r in responses if r.status_code == 201]
        assert len([r for r in created if "Idempotent-Replayed" not in r.headers]) == 1
        assert len({r.json()["id"] for r in created}) == 1
        assert all(
            r.json()["errorCode"] == "IDEMPOTENCY_IN_PROGRESS" for r in responses if r.status_code == 409
        )
        assert await scalar(db, select(func.count()).select_from(Case)) == 1
        referred = (
            select(func.count()).select_from(AuditRecord).where(col(AuditRecord.action) == "case.referred")
        )
        assert await scalar(db, referred) == 1

    async def test_fifty_consents_with_one_idempotency_key_record_one(
        self, clients: list[httpx.AsyncClient], api: Api, keys: Keys, db: Database
    ) -> None:
        # A consent has no natural key of its own: only the Idempotency-Key keeps it single.
        case = await api.refer()
        path = f"/cases/{case['id']}/parties/{case['parties'][0]['id']}/consents"
        consent = {"scope": "direct", "given": True, "recordedBy": "Rep Lewis", "method": "in_person"}
        headers = {**keys.practitioner.headers, "Idempotency-Key": "one-consent"}
        responses = await send_all(clients, path, consent, headers)
        assert {r.status_code for r in responses} <= {201, 409}
        assert any(r.status_code == 201 for r in responses)
        assert await scalar(db, select(func.count()).select_from(Consent)) == 1
        recorded = (
            select(func.count()).select_from(AuditRecord).where(col(AuditRecord.action) == "consent.recorded")
        )
        assert await scalar(db, recorded) == 1
