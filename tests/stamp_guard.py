"""A guard installed in the PostgreSQL test database: every transaction that writes a case's
parties, consents, reps or flags must also write the case's own row. The row's new version
(`xmin`, with `version`) is what says a case's views changed, for the views kept between
requests (`app.cases.view_cache`); a write path that forgot the case row would let a stale view
be served, and here it fails its transaction, in whichever test reaches it.

A trigger on `rj_case` notes, for the transaction, each case whose row it writes; a deferred
trigger on each child table checks at commit that the case was noted (or no longer exists).
"""

import uuid
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlmodel import col

from app.cases.view_cache import VIEW_CHILDREN
from app.models.cases import Case

_NOTE = """
CREATE OR REPLACE FUNCTION rj_test_note_case_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('rj_test.cases_written',
        coalesce(current_setting('rj_test.cases_written', true), '') || ' ' || NEW.id::text, true);
    RETURN NULL;
END $$;
CREATE TRIGGER rj_test_note_case_row AFTER INSERT OR UPDATE ON rj_case
    FOR EACH ROW EXECUTE FUNCTION rj_test_note_case_row();
CREATE OR REPLACE FUNCTION rj_test_case_row_written() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.case_id ELSE NEW.case_id END;
BEGIN
    IF position(changed::text IN coalesce(current_setting('rj_test.cases_written', true), '')) = 0
       AND EXISTS (SELECT 1 FROM rj_case WHERE id = changed) THEN
        RAISE EXCEPTION 'a % row of case % changed without a change to the case''s own row',
            TG_TABLE_NAME, changed;
    END IF;
    RETURN NULL;
END $$;
"""

_CHECK = """
CREATE CONSTRAINT TRIGGER rj_test_case_row_written AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION rj_test_case_row_written();
"""


async def install(url: str) -> None:
    """Install the guard in the database at `url` (PostgreSQL)."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            driver = await conn.get_raw_connection()
            await driver.driver_connection.execute(  # type: ignore[union-attr]
                _NOTE + "".join(_CHECK.format(table=table) for table in VIEW_CHILDREN)
            )
    finally:
        await engine.dispose()


async def touch_cases(session: AsyncSession, case_ids: Iterable[uuid.UUID]) -> None:
    """Write the rows of these cases, unchanged, as every write path writes the row of a case
    whose parts it writes: for tests that write those parts themselves."""
    await session.execute(
        update(Case).where(col(Case.id).in_(list(case_ids))).values(version=col(Case.version))
    )
