"""A server process opens its pool's connections when it starts (`RJ_DB_POOL_WARM`), so that the first
burst of requests does not wait on connection set-ups; warming never stops a start."""

import asyncio
import copy

import pytest
from sqlalchemy.exc import DBAPIError

from app.api.app import create_app
from app.api.problems import is_connection_error
from app.config import Settings
from app.db import Database


async def _backend(db: Database) -> int:
    async with db.driver() as driver:
        pid = int(await driver.fetchval("SELECT pg_backend_pid()"))
        await asyncio.sleep(0.05)  # held together with the others
        return pid


async def test_a_starting_server_process_opens_its_pool(settings: Settings, is_postgres: bool) -> None:
    db = Database(settings.model_copy(update={"db_pool_warm": True, "db_pool_size": 5}))
    app = create_app(db.settings, database=db)
    async with app.router.lifespan_context(app):
        if not is_postgres:
            assert db.engine.pool.checkedin() <= 1  # SQLite keeps no pool to warm
            return
        assert db.engine.pool.checkedin() == 5
        pids = await asyncio.gather(*(_backend(db) for _ in range(5)))
        # five requests at once find five connections open, and open none of their own (those
        # the driver paths keep for the next are still out of the pool)
        assert db.engine.pool.checkedin() + db.driver_keep == 5
        assert db.engine.pool.overflow() == 0  # no connection opened beyond the five
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


async def test_a_driver_connection_that_cannot_be_had_fails_as_the_engines_do(
    settings: Settings, is_postgres: bool
) -> None:
    """A refused connection (here: a database that does not exist) reaches the application's
    handlers wrapped as SQLAlchemy wraps its own, with PostgreSQL's code, so that one refused
    because the database is starting up is answered 503, as the routes answer it."""
    if not is_postgres:
        pytest.skip("the driver connection is PostgreSQL's")
    url = settings.database_url.rsplit("/", 1)[0] + "/no_such_database"
    db = Database(settings.model_copy(update={"database_url": url, "db_pool_warm": False}))
    try:
        with pytest.raises(DBAPIError) as raised:
            async with db.driver():
                pass
        assert getattr(raised.value.orig, "sqlstate", None) == "3D000"
        starting_up = copy.copy(raised.value)
        starting_up.orig.sqlstate = "57P03"  # type: ignore[union-attr]
        assert is_connection_error(starting_up)
    finally:
        await db.dispose()
