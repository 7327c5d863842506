"""Applying Alembic migrations, and refusing to serve an unmigrated database."""

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings


class NotMigratedError(RuntimeError):
    """The database schema is not at the code's revision."""


def migrations_dir() -> Path:
    """Where the migration scripts live (RJ_MIGRATIONS_DIR overrides)."""
    override = os.environ.get("RJ_MIGRATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration for `database_url`, with no ini file needed."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def made_on(dialect: str) -> Callable[..., bool]:
    """For Alembic's `include_object`: leave out of a comparison with a `dialect` database the
    indexes the models make only on another (`Index.ddl_if`), such as PostgreSQL's trigram
    indexes."""

    def include(obj: Any, _name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        made_if = getattr(obj, "_ddl_if", None)
        return not (type_ == "index" and made_if is not None and made_if.dialect not in (None, dialect))

    return include


def head_revisions() -> set[str]:
    """The newest revisions the code knows (one per branch until branches are merged)."""
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Bring the database to `revision`, the newest unless told. Each migration runs in a
    transaction of its own (`migrations/env.py`), which Alembic begins and commits on a connection
    handed to it outside any: so that a migration can build an index CONCURRENTLY, outside a
    transaction, without holding off writes to its table."""
    from app.db import make_engine

    engine = make_engine(settings)
    config = alembic_config(settings.database_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def current_revisions(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at (empty when never migrated)."""
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(heads)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Raise with a clear message unless the database is at the newest revision."""
    current = await current_revisions(engine)
    heads = head_revisions()
    if current != heads:
        raise NotMigratedError(
            f"the database is at revision {', '.join(sorted(current)) or 'none (empty)'}, "
            f"the code needs {', '.join(sorted(heads))}: run `rj-casework migrate` first"
        )
