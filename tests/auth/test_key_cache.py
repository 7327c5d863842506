"""A process remembers a key it looked up for RJ_AUTH_CACHE_SECONDS, and no longer; a revocation
or a rotation is seen at once by every process that remembers the key."""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from app import clock
from app.api.app import create_app
from app.config import Settings
from app.db import Database
from tests.statements import captured
from tests.support import Api, Keys


def _cached_app_client(db: Database, settings: Settings) -> httpx.AsyncClient:
    """A client of an application of its own (its own key cache, as another process has) that
    remembers keys for a minute."""
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), database=db)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test")


@pytest.fixture
async def cached_client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _cached_app_client(db, settings) as c:
        yield c


@pytest.fixture
async def other_cached_client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with _cached_app_client(db, settings) as c:
        yield c


async def _deactivate_by_hand(db: Database, keys: Keys) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_client SET active = :no WHERE id = :id"),
            {
                "no": False,
                "id": keys.manager.client_id.hex if conn.dialect.name == "sqlite" else keys.manager.client_id,
            },
        )


class TestKeyCache:
    async def test_a_known_key_costs_only_the_read_of_the_generation(
        self, cached_client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        await cached_client.get("/reps", headers=keys.manager.headers)
        async with captured(db) as seen:
            r = await cached_client.get("/reps", headers=keys.manager.headers)

        assert r.status_code == 200
        touching_clients = [s for s, _ in seen if "api_client" in s]
        assert len(touching_clients) == 1
        assert "api_client_generation" in touching_clients[0] and "key_hash" not in touching_clients[0]

    async def test_a_key_deactivated_by_hand_works_until_the_cache_forgets_it(
        self, cached_client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        assert (await cached_client.get("/reps", headers=keys.manager.headers)).status_code == 200
        await _deactivate_by_hand(db, keys)

        r = await cached_client.get("/reps", headers=keys.manager.headers)

        assert r.status_code == 200

    async def test_without_the_cache_a_key_deactivated_by_hand_is_refused_at_once(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        assert (await client.get("/reps", headers=keys.manager.headers)).status_code == 200
        await _deactivate_by_hand(db, keys)

        r = await client.get("/reps", headers=keys.manager.headers)

        assert r.status_code == 401

    async def test_an_unknown_key_is_never_remembered(
        self, cached_client: httpx.AsyncClient, keys: Keys
    ) -> None:
        bad = {"Authorization": "Bearer rjk_not-a-key"}

        assert (await cached_client.get("/reps", headers=bad)).status_code == 401
        assert (await cached_client.get("/reps", headers=bad)).status_code == 401


# A read through a session, and (on PostgreSQL) a read on the driver connection: each test uses
# one, so that the other cannot have forgotten the key first.
READS = ["/reps", "/cases/{case_id}"]


class TestRevokedWhileRemembered:
    """Two applications with caches of their own stand for two processes of the service. Every
    request's key is looked up before routing (`app.api.authentication`): on PostgreSQL on a
    driver connection, whatever the route then works on."""

    @pytest.mark.parametrize("read", READS)
    async def test_a_revoked_key_is_refused_at_once_by_every_process_that_remembers_it(
        self,
        cached_client: httpx.AsyncClient,
        other_cached_client: httpx.AsyncClient,
        api: Api,
        keys: Keys,
        read: str,
    ) -> None:
        path = read.format(case_id=(await api.refer())["id"])
        for c in (cached_client, other_cached_client):
            assert (await c.get(path, headers=keys.practitioner.headers)).status_code == 200

        r = await other_cached_client.post(
            f"/clients/{keys.practitioner.client_id}/revoke", headers=keys.admin.headers
        )
        assert r.status_code == 200, r.text

        for c in (cached_client, other_cached_client):
            assert (await c.get(path, headers=keys.practitioner.headers)).status_code == 401

    async def test_a_revoked_key_makes_no_move(
        self, cached_client: httpx.AsyncClient, api: Api, keys: Keys
    ) -> None:
        case = await api.refer()
        path = f"/cases/{case['id']}"
        assert (await cached_client.get(path, headers=keys.practitioner.headers)).status_code == 200
        await api.client.post(f"/clients/{keys.practitioner.client_id}/revoke", headers=keys.admin.headers)

        # A move of the case alone: on PostgreSQL it is made on the driver connection.
        r = await cached_client.post(
            f"{path}/transitions",
            json={"trigger": "decline", "reason": "unsuitable"},
            headers=keys.practitioner.headers,
        )

        assert r.status_code == 401
        assert (await api.case(case["id"], keys.admin))["state"] == "referred"

    async def test_other_remembered_keys_keep_working(
        self, cached_client: httpx.AsyncClient, keys: Keys
    ) -> None:
        for key in (keys.practitioner, keys.manager):
            assert (await cached_client.get("/reps", headers=key.headers)).status_code == 200

        await cached_client.post(f"/clients/{keys.practitioner.client_id}/revoke", headers=keys.admin.headers)

        assert (await cached_client.get("/reps", headers=keys.manager.headers)).status_code == 200

    @pytest.mark.parametrize("read", READS)
    async def test_a_rotated_out_key_stops_at_the_end_of_its_overlap_though_remembered(
        self,
        cached_client: httpx.AsyncClient,
        other_cached_client: httpx.AsyncClient,
        api: Api,
        keys: Keys,
        read: str,
    ) -> None:
        clock.freeze(clock.now())
        path = read.format(case_id=(await api.refer())["id"])
        assert (await cached_client.get(path, headers=keys.practitioner.headers)).status_code == 200
        r = await other_cached_client.post(
            f"/clients/{keys.practitioner.client_id}/rotate",
            json={"overlapHours": 1},
            headers=keys.admin.headers,
        )
        new = {"Authorization": f"Bearer {r.json()['key']}"}
        assert (await cached_client.get(path, headers=keys.practitioner.headers)).status_code == 200
        assert (await cached_client.get(path, headers=new)).status_code == 200

        clock.advance(timedelta(hours=1))

        assert (await cached_client.get(path, headers=keys.practitioner.headers)).status_code == 401
        assert (await cached_client.get(path, headers=new)).status_code == 200
