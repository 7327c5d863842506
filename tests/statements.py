"""The SQL statements a request sends: captured, and compared between two requests."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from unittest.mock import patch

import httpx
from sqlalchemy import event

from app.db import Database
from tests.support import Api, Key


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


async def same_work(
    api: Api, key: Key, out_of_scope: str, *, method: str = "GET", path: str = "/cases/{}", **kw: Any
) -> httpx.Response:
    """Ask for a record out of the caller's scope (a case, unless `path` names another) and for one
    that does not exist: both 404, with the same statements each finding the same (nothing). The
    refusal of the first, returned."""
    missing = str(uuid.uuid4())
    headers = {**key.headers, **kw.pop("headers", {})}

    async def ask(record_id: str) -> httpx.Response:
        return await api.client.request(method, path.format(record_id), headers=headers, **kw)

    await ask(missing)  # anything a first request alone prepares is prepared
    answers: dict[str, httpx.Response] = {}

    async def asked(record_id: str) -> None:
        answers[record_id] = await ask(record_id)

    for_missing = await work_of(api.db, lambda: asked(missing))
    for_hidden = await work_of(api.db, lambda: asked(out_of_scope))
    assert answers[missing].status_code == answers[out_of_scope].status_code == 404
    assert answers[missing].json()["errorCode"] == answers[out_of_scope].json()["errorCode"]
    assert for_missing, "the request sent no statement"
    assert for_hidden == for_missing
    return answers[out_of_scope]
