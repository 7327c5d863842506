"""The SQL statements a request sends: captured, and compared between two requests."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

from sqlalchemy import event

from app.db import Database


@asynccontextmanager
async def captured(db: Database) -> AsyncIterator[list[tuple[str, Any]]]:
    """The statements sent while the block runs, with their parameters: through SQLAlchemy, and
    on the driver connections of the direct paths (`Database.driver`)."""
    seen: list[tuple[str, Any]] = []

    def listen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    def logged(query: Any) -> None:
        seen.append((query.query, query.args))

    real = Database.driver

    @asynccontextmanager
    async def driver(self: Database) -> AsyncIterator[Any]:
        async with real(self) as conn:
            conn.add_query_logger(logged)
            try:
                yield conn
            finally:
                conn.remove_query_logger(logged)

    event.listen(db.engine.sync_engine, "before_cursor_execute", listen)
    try:
        with patch.object(Database, "driver", driver):
            yield seen
            # asyncpg calls its query loggers soon after a query, not in it: the block's last
            # statements are logged once the event loop has run them.
            await asyncio.sleep(0)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", listen)


async def work_of(db: Database, request: Callable[[], Awaitable[Any]]) -> list[tuple[str, int]]:
    """What a request costs the database: each statement it sent, in order, with how many rows
    that statement gives when run again now (reads only; writes are not run again)."""
    async with captured(db) as statements:
        await request()
    done: list[tuple[str, int]] = []
    async with db.engine.connect() as conn:
        for statement, parameters in statements:
            rows = -1
            if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                result = await conn.exec_driver_sql(statement, tuple(parameters or ()))
                rows = len(result.fetchall())
            done.append((statement, rows))
        await conn.rollback()
    return done
