"""Engine, sessions and column types shared by every domain."""

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeGuard, TypeVar, cast, overload

from sqlalchemy import ColumnElement, CursorResult, DateTime, Executable, event, func, inspect, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

from app.common.jsonable import canonical_json
from app.config import Settings

log = logging.getLogger("rj_casework.db")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no offset of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> uuid.UUID:
    """A fresh random id."""
    return uuid.uuid4()


T = TypeVar("T")


def new_row(model: type[T], values: dict[str, Any]) -> T:
    """An instance of `model` holding `values`, outside any session: to read, or to `session.add`.
    Built the way the ORM's loader builds rows, without the model constructor's per-field work (a
    table model does not validate anyway). Added, the columns left out get their column defaults
    when the row is inserted, so give every value read before the flush (a Python-side id, say)."""
    obj = inspect(model).class_manager.new_instance()
    obj.__dict__.update(values)
    return obj  # type: ignore[no-any-return]


class _Unchangeable:
    """What `read_row`'s classes share: their rows refuse to be changed."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a {type(self).__name__} was read for an answer and cannot be changed")


# The plain classes standing in for each table model, by model and whether rows may change.
_PLAIN: dict[tuple[type[Any], bool], type[Any]] = {}


def _plain_class(model: type[Any], *, changeable: bool) -> type[Any]:
    cls = _PLAIN.get((model, changeable))
    if cls is None:
        name = f"{model.__name__}{'' if changeable else 'Read'}Row"
        doc = f"A row of {model.__name__} as plain attributes, outside the ORM."
        bases = () if changeable else (_Unchangeable,)
        cls = _PLAIN[(model, changeable)] = type(name, bases, {"__doc__": doc, "__module__": __name__})
    return cls


def _plain(model: type[Any], values: dict[str, Any], *, changeable: bool) -> Any:
    obj = object.__new__(_plain_class(model, changeable=changeable))
    obj.__dict__.update(values)
    return obj


def read_row(model: type[T], values: dict[str, Any]) -> T:
    """A row of `model` holding `values`, for reading only: a plain object whose columns are
    plain attributes, read without the ORM's instrumentation (a seventh of `new_row`'s cost to
    make, a tenth of a table model's to read). It reads as the model's instances do, and can be
    neither changed nor added to a session (either raises)."""
    return cast(T, _plain(model, values, changeable=False))


def plain_row(model: type[T], values: dict[str, Any]) -> T:
    """A row of `model` holding `values` as plain attributes, outside the ORM: read and changed
    like the model's instances at a fraction of the cost, for code that writes the row with a
    statement of its own (`app.cases.moves.write_move`). It cannot be added to a session."""
    return cast(T, _plain(model, values, changeable=True))


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


async def scalar(conn: "Conn", statement: ClauseElement) -> Any:
    """The first column of a statement's first row (None if it gave none), on either handle."""
    if isinstance(conn, AsyncSession):
        return (await conn.execute(statement)).scalar()  # type: ignore[call-overload]
    sql, args = driver_statement(statement)
    return await conn.fetchval(sql, *args)


async def changed(conn: "Conn", statement: ClauseElement) -> int:
    """Run an UPDATE or DELETE on either handle and say how many rows it touched."""
    if isinstance(conn, AsyncSession):
        return await rowcount(conn, statement)  # type: ignore[arg-type]
    sql, args = driver_statement(statement)
    # The driver answers with the command's tag, "UPDATE 1".
    return int((await conn.execute(sql, *args)).rsplit(" ", 1)[-1])


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


# What the code written for both backends works on: on PostgreSQL the driver's own connection
# (`Database.driver`), on SQLite a session.
Conn = AsyncSession | DriverConnection

# A step run on a unit's connection just before it commits (`Unit.before_commit`).
BeforeCommit = Callable[[Conn], Awaitable[None]]


class Unit:
    """One request's work on the database: opened on first use, committed when the work ends
    (rolled back if it raises), or for a read, no transaction at all on PostgreSQL.

    Code asks for the kind of handle it is written for: `session` for the ORM, or `conn` for
    code written for both backends on PostgreSQL's driver (on SQLite, `conn` is the session).
    One request uses one of them: both would be two transactions, and the second is refused.
    """

    def __init__(self, db: "Database", stack: AsyncExitStack, *, changes: bool) -> None:
        self._db = db
        self._stack = stack
        self._changes = changes
        self._session: AsyncSession | None = None
        self._driver: DriverConnection | None = None
        self._before_commit: list[BeforeCommit] = []

    async def session(self) -> AsyncSession:
        """The unit's session (opened now if it is not yet)."""
        if self._session is None:
            if self._driver is not None:
                raise RuntimeError("this unit of work is on a driver connection already")
            opening = self._db.transaction() if self._changes else self._db.reading()
            self._session = await self._stack.enter_async_context(opening)
        return self._session

    async def conn(self) -> Conn:
        """The unit's connection for code written for both backends: PostgreSQL's driver
        connection (in a transaction, for a change), or the session on SQLite."""
        if not self._db.on_postgres:
            return await self.session()
        if self._driver is None:
            if self._session is not None:
                raise RuntimeError("this unit of work has a session already")
            driver = await self._stack.enter_async_context(self._db.driver())
            if self._changes:
                await self._stack.enter_async_context(driver_transaction(driver))
            self._driver = driver
        return self._driver

    def before_commit(self, step: BeforeCommit) -> None:
        """Run `step` in the unit's transaction just before it commits (a session is opened
        for it if the work opened nothing)."""
        self._before_commit.append(step)

    async def _finish(self) -> None:
        if not self._before_commit:
            return
        conn: Conn = self._driver if self._driver is not None else await self.session()
        for step in self._before_commit:
            await step(conn)


def is_sqlite(url: str) -> bool:
    """Whether a database URL names SQLite."""
    return url.startswith("sqlite")


def make_engine(settings: Settings) -> AsyncEngine:
    """Build the engine; SQLite gets WAL, full sync and immediate write transactions."""
    url = settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
            json_serializer=canonical_json,
        )
        _tune_sqlite(engine, settings)
        return engine
    # JSON columns are written in the audit chain's canonical form, so that verification can
    # hash the stored text as it is instead of parsing and serialising it again.
    return create_async_engine(
        url,
        json_serializer=canonical_json,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size // 2,
        pool_pre_ping=settings.db_pool_pre_ping,
        # The most recently used connection first: a busy server process keeps reusing a few
        # warm connections (and their PostgreSQL backends), instead of cycling through all of them.
        pool_use_lifo=True,
    )


def _tune_sqlite(engine: AsyncEngine, settings: Settings) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Manual transaction control, so that each transaction can start IMMEDIATE:
        # a deferred read-then-write fails at once with "database is locked" under contention.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A read-only snapshot must not take the write lock (see Database.snapshot).
        deferred = conn.get_execution_options().get(READ_ONLY_OPTION, False)
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


READ_ONLY_OPTION = "rj_read_only"


class Database:
    """The engine and session factory of one running service."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings)
        self.on_postgres = self.engine.dialect.name == "postgresql"
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads need no transaction of their own on PostgreSQL: each statement already sees
        # its own snapshot under READ COMMITTED, and BEGIN and COMMIT are two round trips.
        self.read_sessionmaker = (
            async_sessionmaker(
                self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
            )
            if self.on_postgres
            else self.sessionmaker
        )
        # The driver connections kept between driver paths (`driver`): at most half the pool,
        # and none when every use of a connection is to be pinged first.
        self.driver_keep = 0 if settings.db_pool_pre_ping else settings.db_pool_size // 2
        self._kept: list[PoolProxiedConnection] = []

    async def warm(self) -> int:
        """Open the pool's connections now (PostgreSQL, when `db_pool_warm`), so that the first
        burst of requests finds them open; how many it opened. One it cannot open (the server's
        connection limit, say) ends the warming with a warning, not the start."""
        if not self.on_postgres or not self.settings.db_pool_warm:
            return 0
        async with AsyncExitStack() as held:
            opened = 0
            try:
                for _ in range(self.settings.db_pool_size):
                    await held.enter_async_context(self.engine.connect())
                    opened += 1
            except (DBAPIError, OSError) as exc:
                log.warning("opened %d of %d pooled connections: %s", opened, self.settings.db_pool_size, exc)
        return opened

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only: no transaction on PostgreSQL (the same as `transaction`
        on SQLite, where a transaction is what keeps readers and writers apart)."""
        if self.read_sessionmaker is self.sessionmaker:
            async with self.transaction() as session:
                yield session
            return
        async with self.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One session in one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def unit(self, *, changes: bool) -> AsyncIterator[Unit]:
        """One unit of work (`Unit`): for a change, committed when the block ends."""
        async with AsyncExitStack() as stack:
            unit = Unit(self, stack, changes=changes)
            yield unit
            await unit._finish()  # noqa: SLF001 - the unit's own end

    @asynccontextmanager
    async def looking(self) -> AsyncIterator[Conn]:
        """A connection for a short read of its own, taking no lock: PostgreSQL's driver
        connection, or on SQLite a read-only snapshot."""
        if self.on_postgres:
            async with self.driver() as driver:
                yield driver
            return
        async with self.snapshot() as session:
            yield session

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[DriverConnection]:
        """A pooled PostgreSQL connection's own asyncpg connection, for a hot path whose few
        statements cost less to run than SQLAlchemy's execution of them: the caller runs its own
        transaction on it (BEGIN ... COMMIT). Given back still inside one (a
        request cancelled mid-way), the connection is closed instead of pooled.

        Up to `driver_keep` connections given back whole are kept here for the next driver
        path, rather than given back to the engine's pool: taking one from the engine's pool and
        giving it back each cost a trip through SQLAlchemy's greenlet, a tenth of a millisecond
        of CPU on every request. They stay counted as checked out of the engine's pool, which
        leaves the rest (and its overflow) to the sessions, and they are given back to it when
        the service stops (`dispose`). With `db_pool_pre_ping` none is kept, so that every use
        of a connection is pinged first, as the engine's pool pings it."""
        if not self.on_postgres:
            raise RuntimeError("the driver connection is PostgreSQL's")
        pooled = await self._kept_or_checkout()
        # SQLAlchemy types the driver's connection as anything: from here on it is its interface.
        driver = cast(DriverConnection, pooled.driver_connection)
        try:
            yield driver
        finally:
            if driver.is_closed() or driver.is_in_transaction():
                await _discard(pooled)
                if driver.is_closed():
                    # Lost (the database restarted, say): those kept beside it most likely
                    # were too, and each would fail a request of its own.
                    await self._give_back_kept(lost=True)
            elif len(self._kept) < self.driver_keep:
                self._kept.append(pooled)
            else:
                await greenlet_spawn(pooled.close)

    async def _kept_or_checkout(self) -> PoolProxiedConnection:
        """The most recently kept driver connection still open, or else one of the engine's
        pool. One the server has closed while it was kept (a restart, an idle timeout) is seen
        closed as soon as the event loop reads its end, and is dropped, not handed out."""
        while self._kept:
            pooled = self._kept.pop()
            if not cast(DriverConnection, pooled.driver_connection).is_closed():
                return pooled
            await _discard(pooled)
        return await self._checkout()

    async def _checkout(self) -> PoolProxiedConnection:
        """A connection of the engine's pool, for `driver`."""
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            return await self.engine.raw_connection()
        except dbapi.Error as exc:
            # Wrapped as the engine wraps its own connections' failures (the database starting
            # up, say), so that the application's handlers know what it means.
            raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A read-only transaction that sees one consistent state of the database throughout."""
        # REPEATABLE READ on PostgreSQL; on SQLite a deferred read transaction, which WAL keeps
        # consistent without taking the write lock that every other transaction takes.
        async with self.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            else:
                await conn.execution_options(**{READ_ONLY_OPTION: True})
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                finally:
                    await session.rollback()

    async def dispose(self) -> None:
        """Close every pooled connection, the driver connections kept (`driver`) among them."""
        await self._give_back_kept()
        await self.engine.dispose()

    async def _give_back_kept(self, *, lost: bool = False) -> None:
        """Give the driver connections kept (`driver`) back to the engine's pool; if they are
        `lost`, the pool replaces them."""
        kept, self._kept = self._kept, []
        for pooled in kept:
            if lost:
                await _discard(pooled)
            else:
                await greenlet_spawn(pooled.close)


async def _discard(pooled: PoolProxiedConnection) -> None:
    """Close a pooled connection for good (the engine's pool opens another in its place)."""
    # Closing a connection awaits the driver: in SQLAlchemy's greenlet, like its own calls.
    await greenlet_spawn(pooled.invalidate)
    await greenlet_spawn(pooled.close)
