"""The migrations build exactly the schema the models describe, and start-up checks for them."""

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from app.api.app import create_app
from app.config import Settings
from app.db import Database
from app.migrate import NotMigratedError, current_revisions, ensure_migrated, head_revisions
from app.models import metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
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
