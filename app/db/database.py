"""The engine, the sessions, the driver connections and each request's unit of work."""

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.util import greenlet_spawn

from app.common.jsonable import canonical_json
from app.config import Settings
from app.db.driver import DriverConnection, driver_transaction
from app.db.handles import Conn

log = logging.getLogger("rj_casework.db")

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
