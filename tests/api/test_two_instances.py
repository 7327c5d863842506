"""Two instances of the service on one database work as one: nothing either needs is held in
the other's memory (the case, its version, its audit chain and the counters are the database's)."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.api.app import create_app
from app.audit.service import verify
from app.config import Settings
from app.db import Database
from tests.support import Api, referral_body, until


@pytest.fixture
async def other(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second instance: its own engine, pool, caches and workflow machine."""
    database = Database(settings)
    app = create_app(settings, database=database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
        yield c
    await database.dispose()


class TestTwoInstances:
    async def test_racing_pauses_on_one_case_make_one_change(
        self, api: Api, client: httpx.AsyncClient, other: httpx.AsyncClient, db: Database
    ) -> None:
        case = await api.refer()
        await api.must_fire(case["id"], "accept")
        body = {"trigger": "pause", "until": until(hours=24), "reason": "cooling off"}
        headers = api.keys.practitioner.headers

        first, second = await asyncio.gather(
            client.post(f"/cases/{case['id']}/transitions", json=body, headers=headers),
            other.post(f"/cases/{case['id']}/transitions", json=body, headers=headers),
        )
        resumed = await other.post(
            f"/cases/{case['id']}/transitions", json={"trigger": "resume"}, headers=headers
        )
        seen = await api.case(case["id"])

        assert sorted([first.status_code, second.status_code]) == [200, 409]
        assert resumed.status_code == 200
        assert seen["state"] == "assessment"
        assert seen["version"] == case["version"] + 3
        assert (await verify(db.engine)).valid

    async def test_referrals_through_both_take_distinct_references(
        self, api: Api, client: httpx.AsyncClient, other: httpx.AsyncClient
    ) -> None:
        headers = api.keys.practitioner.headers

        responses = await asyncio.gather(
            *(c.post("/referrals", json=referral_body(), headers=headers) for c in (client, other) * 3)
        )

        assert [r.status_code for r in responses] == [201] * 6
        assert len({r.json()["reference"] for r in responses}) == 6
