"""PostgreSQL's own driver connection (asyncpg) as the code uses it: its typed interface, and
statements built with SQLAlchemy, compiled once, for it."""

from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol, overload

from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement


class DriverRow(Protocol):
    """A row as the driver gives it (`asyncpg.Record`): its values by position or by column
    name, a slice of them as a tuple, and all of them in order."""

    @overload
    def __getitem__(self, key: int | str, /) -> Any: ...
    @overload
    def __getitem__(self, key: slice, /) -> tuple[Any, ...]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class DriverCursor(Protocol):
    """A driver connection's open cursor (`asyncpg.cursor.Cursor`): the next `n` rows at a time."""

    async def fetch(self, n: int, *, timeout: float | None = None) -> list[DriverRow]: ...


class DriverCursorFactory(Protocol):
    """What `DriverConnection.cursor` gives (`asyncpg.cursor.CursorFactory`): awaited, a cursor
    to fetch from; iterated, the rows one by one."""

    def __await__(self) -> Generator[Any, None, DriverCursor]: ...
    def __aiter__(self) -> AsyncIterator[DriverRow]: ...


class DriverConnection(Protocol):
    """What the code asks of a PostgreSQL driver connection (`Database.driver`, or one of
    asyncpg's own for the audit trail's verification): the part of `asyncpg.Connection` it uses,
    so that the type checker checks each use (asyncpg has no types of its own). Statements take
    their parameters in order, as `$1`, `$2`, ..."""

    async def execute(self, query: str, *args: object, timeout: float | None = None) -> str: ...
    async def fetch(self, query: str, *args: object, timeout: float | None = None) -> list[DriverRow]: ...
    async def fetchrow(self, query: str, *args: object, timeout: float | None = None) -> DriverRow | None: ...
    async def fetchval(
        self, query: str, *args: object, column: int = 0, timeout: float | None = None
    ) -> Any: ...
    def cursor(
        self, query: str, *args: object, prefetch: int | None = None, timeout: float | None = None
    ) -> DriverCursorFactory: ...
    def transaction(
        self, *, isolation: str | None = None, readonly: bool = False, deferrable: bool = False
    ) -> AbstractAsyncContextManager[None]: ...
    def is_closed(self) -> bool: ...
    def is_in_transaction(self) -> bool: ...
    async def close(self, *, timeout: float | None = None) -> None: ...


_ASYNCPG: Dialect = PGDialect_asyncpg()  # type: ignore[no-untyped-call]


# A statement for a driver connection: its SQL, and its parameters in order from named values.
DriverStatement = tuple[str, Callable[[dict[str, Any]], list[Any]]]


def on_driver(statement: ClauseElement) -> DriverStatement:
    """A statement built once, for a PostgreSQL driver connection (`Database.driver`): its SQL,
    and its parameters in order from the values of its named parameters (the values it holds
    itself, such as the literals of its conditions, filled in)."""
    compiled: Any = statement.compile(dialect=_ASYNCPG)
    names = list(compiled.positiontup)
    fixed = compiled.params

    def args(values: dict[str, Any]) -> list[Any]:
        return [values[name] if name in values else fixed[name] for name in names]

    return str(compiled), args


# Statements built for each request (their conditions depend on the caller and the query),
# compiled once per shape: keyed as SQLAlchemy keys its own compiled cache, by the statement's
# structure without its values. The shapes are few (roles, filters given); the bound is a guard.
_SHAPES: dict[Any, tuple[Any, Sequence[Any]]] = {}
_MOST_SHAPES = 256


def driver_statement(statement: ClauseElement) -> tuple[str, list[Any]]:
    """A statement built for one use, for a PostgreSQL driver connection: its SQL (an IN list
    written out for its values) and its parameters in order, as SQLAlchemy's execution would
    send them, without compiling the statement again for every request of the same shape."""
    key = statement._generate_cache_key()  # noqa: SLF001 - the key SQLAlchemy's own cache uses
    if key is None:
        compiled: Any = statement.compile(dialect=_ASYNCPG)
        values = None
    else:
        found = _SHAPES.get(key.key)
        if found is None:
            if len(_SHAPES) >= _MOST_SHAPES:
                _SHAPES.clear()
            found = _SHAPES[key.key] = (statement.compile(dialect=_ASYNCPG), key.bindparams)
        compiled, first = found
        # This statement's values, by the names of the first statement of its shape.
        values = {bind.key: now.effective_value for bind, now in zip(first, key.bindparams, strict=True)}
    expanded = compiled.construct_expanded_state(values, escape_names=False)
    processors = expanded.processors
    args = [
        processors[name](expanded.parameters[name]) if name in processors else expanded.parameters[name]
        for name in expanded.positiontup
    ]
    return expanded.statement, args


@asynccontextmanager
async def driver_transaction(driver: DriverConnection) -> AsyncIterator[DriverConnection]:
    """A transaction on a driver connection (`Database.driver`): committed when the block ends,
    rolled back when it raises (so that the connection is pooled again). A cancelled request
    leaves it in its transaction, and `Database.driver` closes the connection instead of pooling
    it."""
    # BEGIN and COMMIT as plain statements: asyncpg's transaction object costs more than they do.
    await driver.execute("BEGIN")
    try:
        yield driver
    except Exception:
        await driver.execute("ROLLBACK")
        raise
    await driver.execute("COMMIT")
