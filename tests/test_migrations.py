"""The migrations build exactly the schema the models describe, and start-up checks for them."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.migrate import NotMigratedError, current_revisions, ensure_migrated, head_revisions, made_on, upgrade
from app.models import metadata
from tests.conftest import database_at


def _differences(connection: Connection) -> list[Any]:
    opts = {"compare_type": True, "include_object": made_on(connection.dialect.name)}
    context = MigrationContext.configure(connection, opts=opts)
    return list(compare_metadata(context, metadata))


class TestMigratedDatabase:
    async def test_schema_matches_the_models(self, db: Database) -> None:
        async with db.engine.connect() as conn:
            differences = await conn.run_sync(_differences)
        assert differences == []

    async def test_is_at_every_head(self, db: Database) -> None:
        assert await current_revisions(db.engine) == head_revisions()
        await ensure_migrated(db.engine)


class TestUnmigratedDatabase:
    @pytest.fixture
    async def empty(self, tmp_path: Path) -> Any:
        database = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
        yield database
        await database.dispose()

    async def test_is_refused_with_a_clear_message(self, empty: Database) -> None:
        with pytest.raises(NotMigratedError) as caught:
            await ensure_migrated(empty.engine)
        message = str(caught.value)
        assert "none (empty)" in message
        assert "run `rj-casework migrate` first" in message
        assert "\n" not in message

    async def test_the_app_does_not_start_on_it(self, empty: Database) -> None:
        app = create_app(empty.settings, database=empty)
        with pytest.raises(NotMigratedError, match="rj-casework migrate"):
            async with app.router.lifespan_context(app):
                pass


class TestIndexesBuiltWithoutHoldingOffWrites:
    """PostgreSQL: 0007 builds its indexes CONCURRENTLY, outside any transaction."""

    @pytest.fixture
    async def at_0006(self, database_url: str, is_postgres: bool, tmp_path: Path) -> AsyncIterator[str]:
        if not is_postgres:
            pytest.skip("CONCURRENTLY is PostgreSQL's")
        async with database_at(database_url, "0006_one_history", tmp_path) as url:
            yield url

    async def test_they_are_built_concurrently_in_autocommit(self, at_0006: str) -> None:
        # An index of one of the names, as a build cut short would leave it (there invalid).
        engine = create_async_engine(at_0006)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE INDEX ix_party_id_names ON party (id)"))
        sent: list[tuple[str, Any]] = []

        def record(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
            sent.append((" ".join(statement.split()), conn.get_execution_options().get("isolation_level")))

        event.listen(Engine, "before_cursor_execute", record)
        try:
            # Up to 0007 alone: later revisions build indexes of their own.
            await upgrade(Settings(database_url=at_0006), "0007_task_list_indexes")
        finally:
            event.remove(Engine, "before_cursor_execute", record)

        ours = ("ix_case_id_reference", "ix_party_id_names")  # later migrations build their own
        index_ddl = [(s, level) for s, level in sent if "INDEX" in s and any(name in s for name in ours)]
        assert index_ddl == [
            ("DROP INDEX CONCURRENTLY IF EXISTS ix_case_id_reference", "AUTOCOMMIT"),
            ("CREATE INDEX CONCURRENTLY ix_case_id_reference ON rj_case (id, reference)", "AUTOCOMMIT"),
            ("DROP INDEX CONCURRENTLY IF EXISTS ix_party_id_names", "AUTOCOMMIT"),
            (
                "CREATE INDEX CONCURRENTLY ix_party_id_names ON party (id, first_name, last_name, location)",
                "AUTOCOMMIT",
            ),
        ]
        async with engine.connect() as conn:
            built = (
                await conn.execute(
                    text(
                        "SELECT c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                        "JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE c.relname IN ('ix_case_id_reference', 'ix_party_id_names') ORDER BY 1"
                    )
                )
            ).all()
        await upgrade(Settings(database_url=at_0006))
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
        await engine.dispose()
        assert [(name, valid, ddl.split(" USING btree ")[1]) for name, valid, ddl in built] == [
            ("ix_case_id_reference", True, "(id, reference)"),
            ("ix_party_id_names", True, "(id, first_name, last_name, location)"),
        ]
        assert differences == []
        migrated = Database(Settings(database_url=at_0006))
        try:
            assert await current_revisions(migrated.engine) == head_revisions()
        finally:
            await migrated.dispose()
