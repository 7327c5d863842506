"""Driver connections given back whole are kept for the next driver path (`Database.driver`),
up to half the pool, instead of going back through the engine's pool each time; one given back
in a transaction or lost is not, a lost one takes those kept beside it with it, and one the
server closed while it was kept is dropped instead of handed out."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.db import Database


@pytest.fixture
async def pg(settings: Settings, is_postgres: bool) -> AsyncIterator[Database]:
    if not is_postgres:
        pytest.skip("the driver connection is PostgreSQL's")
    db = Database(settings.model_copy(update={"db_pool_size": 4, "db_pool_warm": False}))
    try:
        yield db
    finally:
        await db.dispose()


async def _pid(db: Database, hold: float = 0.0) -> int:
    async with db.driver() as driver:
        pid = int(await driver.fetchval("SELECT pg_backend_pid()"))
        await asyncio.sleep(hold)
        return pid


async def _alive(db: Database, pid: int) -> bool:
    async with db.engine.connect() as conn:
        found = await conn.exec_driver_sql(f"SELECT count(*) FROM pg_stat_activity WHERE pid = {int(pid)}")
        return bool(found.scalar_one())


async def test_a_connection_given_back_whole_is_kept_for_the_next(pg: Database) -> None:
    assert pg.driver_keep == 2
    first = await _pid(pg)
    checked_out = pg.engine.pool.checkedout()
    assert checked_out == 1  # kept, so still out of the engine's pool
    for _ in range(5):
        assert await _pid(pg) == first
    assert pg.engine.pool.checkedout() == checked_out


async def test_no_more_than_half_the_pool_is_kept(pg: Database) -> None:
    pids = await asyncio.gather(*(_pid(pg, hold=0.05) for _ in range(4)))
    assert len(set(pids)) == 4
    # two kept, two given back to the engine's pool, which the sessions still have
    assert pg.engine.pool.checkedout() == 2
    assert pg.engine.pool.checkedin() == 2
    async with pg.engine.connect() as conn:
        assert (await conn.exec_driver_sql("SELECT 1")).scalar_one() == 1
    # the kept ones are used first, the most recent first
    assert await _pid(pg) in pids


async def test_a_connection_left_in_a_transaction_is_closed_not_kept(pg: Database) -> None:
    async with pg.driver() as driver:
        await driver.execute("BEGIN")
        left = int(await driver.fetchval("SELECT pg_backend_pid()"))
    assert pg.engine.pool.checkedout() == 0
    async with pg.driver() as driver:
        assert not driver.is_in_transaction()
        assert await driver.fetchval("SELECT pg_backend_pid()") != left
    assert await until_gone(pg, left)


async def test_there_is_no_driver_connection_on_sqlite(db: Database, is_postgres: bool) -> None:
    if is_postgres:
        pytest.skip("SQLite's refusal")
    with pytest.raises(RuntimeError):
        async with db.driver():
            pass


async def test_a_kept_connection_the_server_closed_is_dropped_not_handed_out(pg: Database) -> None:
    pids = await asyncio.gather(*(_pid(pg, hold=0.05) for _ in range(2)))
    assert pg.engine.pool.checkedout() == 2
    async with pg.engine.connect() as conn:
        await conn.exec_driver_sql(f"SELECT pg_terminate_backend({pids[0]}), pg_terminate_backend({pids[1]})")
    for pid in pids:
        assert await until_gone(pg, pid)
    await asyncio.sleep(0.05)  # the event loop reads each connection's end
    # the next driver path gets a live connection, not a request failed on a closed one
    fresh = await _pid(pg)
    assert fresh not in pids
    assert pg.engine.pool.checkedout() == 1  # the one kept now; the closed ones went back


async def test_a_connection_lost_in_use_takes_those_kept_with_it(pg: Database) -> None:
    pids = await asyncio.gather(*(_pid(pg, hold=0.05) for _ in range(2)))
    assert pg.engine.pool.checkedout() == 2
    # the connection in use is lost (here: its server process ends it mid-request) ...
    with pytest.raises(Exception):  # noqa: B017 - asyncpg's own, whichever the loss shows as
        async with pg.driver() as driver:
            lost = int(await driver.fetchval("SELECT pg_backend_pid()"))
            await driver.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
    # ... and the one kept beside it goes too: the next is a fresh connection, not a kept one
    assert pg.engine.pool.checkedout() == 0
    assert await _pid(pg) not in pids
    assert await until_gone(pg, (set(pids) - {lost}).pop())


async def test_none_is_kept_when_each_use_is_pinged(settings: Settings, is_postgres: bool) -> None:
    if not is_postgres:
        pytest.skip("the driver connection is PostgreSQL's")
    db = Database(settings.model_copy(update={"db_pool_pre_ping": True, "db_pool_warm": False}))
    try:
        assert db.driver_keep == 0
        await _pid(db)
        assert db.engine.pool.checkedout() == 0
    finally:
        await db.dispose()


async def test_those_kept_are_given_back_when_the_service_stops(pg: Database) -> None:
    pid = await _pid(pg)
    assert pg.engine.pool.checkedout() == 1
    await pg.dispose()
    assert pg.engine.pool.checkedout() == 0
    assert await until_gone(pg, pid)


async def until_gone(db: Database, pid: int) -> bool:
    """Whether the server process `pid` has ended (closing a connection is not instant)."""
    for _ in range(50):
        if not await _alive(db, pid):
            return True
        await asyncio.sleep(0.05)
    return False
