"""What code written for both backends works on (`Conn`): on PostgreSQL the driver's own
connection, on SQLite a session; and the few statements such code runs on either."""

from collections.abc import Callable, Sequence
from typing import Any, TypeGuard, TypeVar

from sqlalchemy import ColumnElement, CursorResult, Executable, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ClauseElement

from app.db.driver import DriverConnection, driver_statement

T = TypeVar("T")

# What the code written for both backends works on: on PostgreSQL the driver's own connection
# (`Database.driver`), on SQLite a session.
Conn = AsyncSession | DriverConnection


def on_postgres(session: AsyncSession | DriverConnection) -> bool:
    """Whether the session talks to PostgreSQL (otherwise SQLite); a driver connection
    (`Database.driver`) is PostgreSQL's own."""
    if not isinstance(session, AsyncSession):
        return True
    bind = session.bind
    return bind is not None and bind.dialect.name == "postgresql"


def on_sqlite(conn: AsyncSession | DriverConnection) -> TypeGuard[AsyncSession]:
    """Whether `conn` is a session on SQLite: `on_postgres`' opposite, for code given a session
    or a driver connection, which on SQLite can only have been given a session."""
    if not isinstance(conn, AsyncSession):
        return False
    bind = conn.bind
    return bind is None or bind.dialect.name != "postgresql"


def dialect_name(session: AsyncSession) -> str:
    """The session's backend: "postgresql" or "sqlite"."""
    return "postgresql" if on_postgres(session) else "sqlite"


# Each backend's INSERT construct (both have ON CONFLICT), by dialect name.
INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def dialect_insert(session: AsyncSession) -> Any:
    """The INSERT construct of the session's dialect."""
    return INSERTS[dialect_name(session)]


def per_dialect(build: Callable[[Any], T]) -> dict[str, T]:
    """A statement built once for each backend from its INSERT construct, by dialect name: for
    statements built at import instead of on every request."""
    return {name: build(insert) for name, insert in INSERTS.items()}


async def rowcount(session: AsyncSession, statement: Executable) -> int:
    """Run an UPDATE or DELETE and say how many rows it touched."""
    result = await session.execute(statement, execution_options={"synchronize_session": False})
    assert isinstance(result, CursorResult)  # noqa: S101 - UPDATE and DELETE give a cursor result
    return int(result.rowcount)


async def fetch_page(
    session: AsyncSession,
    model: type[T],
    *,
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    offset: int,
    limit: int,
) -> tuple[list[T], int]:
    """One page of the rows of `model` matching `where`, and how many match in all."""
    total = (await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one()
    rows = await session.execute(select(model).where(*where).order_by(*order_by).offset(offset).limit(limit))
    return list(rows.scalars()), int(total)


async def scalar(conn: "Conn", statement: ClauseElement) -> Any:
    """The first column of a statement's first row (None if it gave none), on either handle."""
    if isinstance(conn, AsyncSession):
        return (await conn.execute(statement)).scalar()  # type: ignore[call-overload]
    sql, args = driver_statement(statement)
    return await conn.fetchval(sql, *args)


async def column(conn: "Conn", statement: ClauseElement) -> list[Any]:
    """The first column of every row of a statement, on either handle."""
    if isinstance(conn, AsyncSession):
        return list((await conn.execute(statement)).scalars())  # type: ignore[call-overload]
    sql, args = driver_statement(statement)
    return [row[0] for row in await conn.fetch(sql, *args)]


async def changed(conn: "Conn", statement: ClauseElement) -> int:
    """Run an UPDATE or DELETE on either handle and say how many rows it touched."""
    if isinstance(conn, AsyncSession):
        return await rowcount(conn, statement)  # type: ignore[arg-type]
    sql, args = driver_statement(statement)
    # The driver answers with the command's tag, "UPDATE 1".
    return int((await conn.execute(sql, *args)).rsplit(" ", 1)[-1])
