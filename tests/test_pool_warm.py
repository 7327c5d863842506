"""A worker opens its pool's connections when it starts (`RJ_DB_POOL_WARM`), so that the first
burst of requests does not wait on connection set-ups; warming never stops a start."""

import asyncio

import pytest

from app.api.app import create_app
from app.config import Settings
from app.db import Database


async def _backend(db: Database) -> int:
    async with db.driver() as driver:
        pid = int(await driver.fetchval("SELECT pg_backend_pid()"))
        await asyncio.sleep(0.05)  # held together with the others
        return pid


async def test_a_starting_worker_opens_its_pool(settings: Settings, is_postgres: bool) -> None:
    db = Database(settings.model_copy(update={"db_pool_warm": True, "db_pool_size": 5}))
    app = create_app(db.settings, database=db)
    async with app.router.lifespan_context(app):
        if not is_postgres:
            assert db.engine.pool.checkedin() <= 1  # SQLite keeps no pool to warm
            return
        assert db.engine.pool.checkedin() == 5
        pids = await asyncio.gather(*(_backend(db) for _ in range(5)))
        # five requests at once find five connections open, and open none of their own
        assert db.engine.pool.checkedin() == 5
        assert len(set(pids)) == 5


async def test_warming_is_off_when_told(settings: Settings, is_postgres: bool) -> None:
    db = Database(settings.model_copy(update={"db_pool_warm": False, "db_pool_size": 5}))
    assert await db.warm() == 0
    assert db.engine.pool.checkedin() <= 1
    await db.dispose()


async def test_a_connection_limit_ends_the_warming_not_the_start(
    settings: Settings, is_postgres: bool, caplog: pytest.LogCaptureFixture
) -> None:
    if not is_postgres:
        pytest.skip("the connection limit is PostgreSQL's")
    probe = Database(settings)
    async with probe.driver() as driver:
        limit = int(await driver.fetchval("SHOW max_connections"))
    await probe.dispose()
    # a pool larger than the server allows: warming stops at the limit, with a warning
    db = Database(settings.model_copy(update={"db_pool_warm": True, "db_pool_size": limit + 10}))
    try:
        opened = await db.warm()
        assert 0 < opened <= limit
        assert "pooled connections" in caplog.text
        async with db.driver() as driver:
            assert await driver.fetchval("SELECT 1") == 1
    finally:
        await db.dispose()
