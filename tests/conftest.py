"""Test set-up: a database of the suite's own (SQLite, or PostgreSQL when
RJ_TEST_DATABASE_URL names one), migrated once, emptied between tests, and an HTTP client
talking to the app in-process."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from app import clock
from app.api.app import create_app
from app.config import Settings, get_settings
from app.db import Database
from app.migrate import upgrade
from app.models import metadata
from tests import stamp_guard
from tests.standins.nonassociations import (  # noqa: F401 - fixtures shared by every test directory
    _non_associations_server,
    non_associations,
    non_associations_down,
)
from tests.support import Api, Keys

REPO = Path(__file__).resolve().parent.parent
# Incident reports and domain events in the shapes the prison systems publish, of made-up people.
FIXTURES = REPO / "tests" / "fixtures"


def _postgres_admin_url() -> str | None:
    url = os.environ.get("RJ_TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI") == "true" and os.environ.get("RJ_TEST_BACKEND") == "postgresql":
        pytest.exit("CI=true asks for PostgreSQL but RJ_TEST_DATABASE_URL is not set", returncode=3)
    return None


async def _create_pg_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await engine.dispose()


@asynccontextmanager
async def database_at(database_url: str, revision: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own beside the suite's, migrated up to `revision`, dropped afterwards."""
    if not database_url.startswith("postgresql"):
        url = f"sqlite+aiosqlite:///{tmp_path / f'{revision}.db'}"
        await upgrade(Settings(database_url=url), revision)
        yield url
        return
    name = f"rjmig_{uuid.uuid4().hex[:8]}"
    await _create_pg_database(database_url, name)
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade(Settings(database_url=url), revision)
        yield url
    finally:
        await _drop_pg_database(database_url, name)


@asynccontextmanager
async def with_later_columns(url: str) -> AsyncIterator[None]:
    """Inside, a database at an earlier revision also has the columns later revisions add (empty,
    or their defaults), so that today's code can write to it; they are dropped on the way out,
    for the later revisions to add themselves."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            added = await conn.run_sync(_add_missing_columns)
        yield
        async with engine.begin() as conn:
            await conn.run_sync(_drop_columns, added)
    finally:
        await engine.dispose()


def _add_missing_columns(conn: Connection) -> list[tuple[str, str]]:
    present = inspect(conn)
    ops = Operations(MigrationContext.configure(conn))
    added = []
    for table in metadata.sorted_tables:
        if not present.has_table(table.name):
            continue
        have = {c["name"] for c in present.get_columns(table.name)}
        for column in table.columns:
            if column.name not in have:
                ops.add_column(table.name, column._copy())  # noqa: SLF001 - a column may join one table only
                added.append((table.name, column.name))
    return added


def _drop_columns(conn: Connection, added: list[tuple[str, str]]) -> None:
    ops = Operations(MigrationContext.configure(conn))
    for table, column in added:
        ops.drop_column(table, column)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A freshly migrated database owned by this test session."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        path = tmp_path_factory.mktemp("db") / "rj-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(upgrade(Settings(database_url=url)))
        yield url
        return
    name = f"rjtest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_create_pg_database(admin_url, name))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.exit(f"PostgreSQL at RJ_TEST_DATABASE_URL is not reachable: {exc}", returncode=3)
        raise
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    asyncio.run(upgrade(Settings(database_url=url)))
    asyncio.run(stamp_guard.install(url))
    yield url
    asyncio.run(_drop_pg_database(admin_url, name))


@pytest.fixture(scope="session")
def is_postgres(database_url: str) -> bool:
    """Whether the suite runs on PostgreSQL."""
    return database_url.startswith("postgresql")


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings for one test; change them with monkeypatch.setenv and get_settings.cache_clear()."""
    monkeypatch.setenv("RJ_DATABASE_URL", database_url)
    monkeypatch.setenv("RJ_BASE_URL", "http://rj.test")
    # Tests change keys and expect the change at once; the key cache has tests of its own.
    monkeypatch.setenv("RJ_AUTH_CACHE_SECONDS", "0")
    # Each test's application would open a whole pool; `tests/test_pool_warm.py` tests warming.
    monkeypatch.setenv("RJ_DB_POOL_WARM", "false")
    for name in ("RJ_NON_ASSOCIATIONS_URL", "RJ_INCIDENT_REPORTING_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


async def _empty(db: Database) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    async with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # The audit table refuses TRUNCATE; replica mode lets the test's owner clean up.
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
        # DELETE, not TRUNCATE: on tables this small it is many times faster.
        for table in tables:
            await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test database, emptied before the test."""
    database = Database(settings)
    await _empty(database)
    clock.unfreeze()
    yield database
    clock.unfreeze()
    await database.dispose()


@pytest.fixture
async def app(db: Database, settings: Settings) -> Any:
    """The application, sharing the test's database."""
    return create_app(settings, database=db)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://rj.test") as c:
        yield c


@pytest.fixture
async def keys(db: Database) -> Keys:
    """Bearer keys for each role (see tests.support.Keys)."""
    return await Keys.create(db)


@pytest.fixture
async def api(client: httpx.AsyncClient, keys: Keys, db: Database) -> Api:
    """Shortcuts for driving the API as a user would."""
    return Api(client, keys, db)
