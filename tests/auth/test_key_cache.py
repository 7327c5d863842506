"""A process trusts a key it looked up for RJ_AUTH_CACHE_SECONDS, and no longer."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import event, text

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from tests.support import Keys


@pytest.fixture
async def cached_client(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"auth_cache_seconds": 60}), database=db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rj.test") as c:
        yield c


async def _deactivate(db: Database, keys: Keys) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE api_client SET active = :no WHERE id = :id"),
            {
                "no": False,
                "id": keys.manager.client_id.hex if conn.dialect.name == "sqlite" else keys.manager.client_id,
            },
        )


class TestKeyCache:
    async def test_a_known_key_costs_no_lookup(
        self, cached_client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        await cached_client.get("/reps", headers=keys.manager.headers)
        seen: list[str] = []

        def listen(*args: object) -> None:
            seen.append(str(args[2]))

        event.listen(db.engine.sync_engine, "before_cursor_execute", listen)
        try:
            r = await cached_client.get("/reps", headers=keys.manager.headers)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", listen)

        assert r.status_code == 200
        assert not [s for s in seen if "api_client" in s]

    async def test_a_deactivated_key_works_until_the_cache_forgets_it(
        self, cached_client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        assert (await cached_client.get("/reps", headers=keys.manager.headers)).status_code == 200
        await _deactivate(db, keys)

        r = await cached_client.get("/reps", headers=keys.manager.headers)

        assert r.status_code == 200

    async def test_without_the_cache_a_deactivated_key_is_refused_at_once(
        self, client: httpx.AsyncClient, keys: Keys, db: Database
    ) -> None:
        assert (await client.get("/reps", headers=keys.manager.headers)).status_code == 200
        await _deactivate(db, keys)

        r = await client.get("/reps", headers=keys.manager.headers)

        assert r.status_code == 401

    async def test_an_unknown_key_is_never_remembered(
        self, cached_client: httpx.AsyncClient, keys: Keys
    ) -> None:
        bad = {"Authorization": "Bearer rjk_not-a-key"}

        assert (await cached_client.get("/reps", headers=bad)).status_code == 401
        assert (await cached_client.get("/reps", headers=bad)).status_code == 401
