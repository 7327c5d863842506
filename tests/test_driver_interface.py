"""`app.db.DriverConnection` and `DriverRow` are the part of asyncpg's connection and record the
code uses. asyncpg has no types of its own, so `Database.driver` casts its connection to the
interface; these tests hold the interface to what asyncpg really offers."""

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from asyncpg.cursor import Cursor, CursorFactory
from typing_extensions import get_protocol_members

from app.config import Settings
from app.db import Database, DriverConnection, DriverCursor, DriverCursorFactory, DriverRow

_METHODS = sorted(get_protocol_members(DriverConnection))
# Each interface's methods, with asyncpg's class that has them.
_CURSOR_METHODS = [
    (ours, theirs, name)
    for ours, theirs in ((DriverCursor, Cursor), (DriverCursorFactory, CursorFactory))
    for name in sorted(get_protocol_members(ours))
]


def _parameters(method: Callable[..., Any]) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(method).parameters.values() if p.name != "self"]


@pytest.fixture
async def pg(settings: Settings, is_postgres: bool) -> AsyncIterator[Database]:
    if not is_postgres:
        pytest.skip("the driver connection is PostgreSQL's")
    db = Database(settings.model_copy(update={"db_pool_size": 2, "db_pool_warm": False}))
    try:
        yield db
    finally:
        await db.dispose()


class TestDriverConnection:
    @pytest.mark.parametrize("name", _METHODS)
    def test_each_method_is_asyncpgs_own_awaited_as_asyncpg_awaits_it(self, name: str) -> None:
        ours = getattr(DriverConnection, name)
        theirs = getattr(asyncpg.Connection, name, None)
        assert theirs is not None, f"asyncpg's connection has no {name}"
        assert inspect.iscoroutinefunction(inspect.unwrap(theirs)) == inspect.iscoroutinefunction(ours)

    @pytest.mark.parametrize("name", _METHODS)
    def test_each_parameter_is_asyncpgs_with_its_default(self, name: str) -> None:
        theirs = {p.name: p for p in _parameters(getattr(asyncpg.Connection, name))}
        for ours in _parameters(getattr(DriverConnection, name)):
            assert ours.name in theirs, f"asyncpg's {name} takes no {ours.name}"
            assert theirs[ours.name].kind == ours.kind
            assert theirs[ours.name].default == ours.default

    async def test_the_pooled_connection_has_every_method(self, pg: Database) -> None:
        async with pg.driver() as driver:
            missing = [name for name in _METHODS if not callable(getattr(driver, name, None))]
        assert missing == []


class TestDriverCursor:
    @pytest.mark.parametrize(("ours", "theirs", "name"), _CURSOR_METHODS)
    def test_each_method_is_asyncpgs_own_awaited_as_asyncpg_awaits_it(
        self, ours: type, theirs: type, name: str
    ) -> None:
        assert callable(getattr(theirs, name, None)), f"asyncpg's {theirs.__name__} has no {name}"
        # asyncpg's guard of a closed connection wraps some of its coroutines: look beneath it.
        awaited = inspect.iscoroutinefunction(inspect.unwrap(getattr(theirs, name)))
        assert awaited == inspect.iscoroutinefunction(getattr(ours, name))

    async def test_a_cursor_fetches_rows_in_batches_and_iterates_them(self, pg: Database) -> None:
        query = "SELECT n FROM generate_series(1, 5) AS n"
        async with pg.driver() as driver, driver.transaction(readonly=True):
            cursor = await driver.cursor(query)
            batches = [[r[0] for r in await cursor.fetch(3)], [r[0] for r in await cursor.fetch(3)]]
            iterated = [r["n"] async for r in driver.cursor(query, prefetch=2)]
        assert (batches, iterated) == ([[1, 2, 3], [4, 5]], [1, 2, 3, 4, 5])


class TestDriverRow:
    @pytest.mark.parametrize("name", sorted(get_protocol_members(DriverRow)))
    def test_each_method_is_asyncpgs_records(self, name: str) -> None:
        assert callable(getattr(asyncpg.Record, name, None))

    async def test_a_row_reads_by_position_by_name_and_by_slice(self, pg: Database) -> None:
        async with pg.driver() as driver:
            row = await driver.fetchrow("SELECT 1 AS a, 2 AS b, 3 AS c")
        assert row is not None
        assert (row[0], row["b"], row[1:], list(row), len(row)) == (1, 2, (2, 3), [1, 2, 3], 3)
