"""`app.db.DriverConnection` and `DriverRow` are the part of asyncpg's connection and record the
code uses. asyncpg has no types of its own, so `Database.driver` casts its connection to the
interface; these tests hold the interface to what asyncpg really offers."""

import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from typing_extensions import get_protocol_members

from app.config import Settings
from app.db import Database, DriverConnection, DriverRow

_METHODS = sorted(get_protocol_members(DriverConnection))


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
        assert inspect.iscoroutinefunction(theirs) == inspect.iscoroutinefunction(ours)

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


class TestDriverRow:
    @pytest.mark.parametrize("name", sorted(get_protocol_members(DriverRow)))
    def test_each_method_is_asyncpgs_records(self, name: str) -> None:
        assert callable(getattr(asyncpg.Record, name, None))

    async def test_a_row_reads_by_position_by_name_and_by_slice(self, pg: Database) -> None:
        async with pg.driver() as driver:
            row = await driver.fetchrow("SELECT 1 AS a, 2 AS b, 3 AS c")
        assert row is not None
        assert (row[0], row["b"], row[1:], list(row), len(row)) == (1, 2, (2, 3), [1, 2, 3], 3)
