"""A redacted audit record verifies only as the retention purge leaves it: named, with the content
hash it carries, by a purge record of a case closed past retention. Any other redaction is found
and named; on PostgreSQL the database refuses it to the application's role."""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from app import clock
from app.api.app import create_app
from app.audit.service import verify as verify_trail
from app.config import Settings, get_settings
from app.db import Database
from app.migrate import upgrade
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.retention import service as retention
from tests.audit.forge import blanked, cli_verify, forge_purge, purge_record, tamper, verify
from tests.conftest import database_at, with_later_columns
from tests.records import audit_records
from tests.support import Api, Keys

T0 = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
PAST_RETENTION = timedelta(days=6 * 366)


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("RJ_PSEUDONYM_KEY", "test-pseudonym-key")
    get_settings.cache_clear()


async def closed_long_ago(api: Api) -> dict[str, Any]:
    """A case closed at T0; the clock is then past its retention period."""
    clock.freeze(T0)
    case = await api.to_state("closed")
    clock.advance(PAST_RETENTION)
    return case


class TestRedactionOutsideThePurge:
    async def test_a_record_of_an_open_case_blanked_and_flagged_is_named(
        self, api: Api, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await api.to_state("assessment")
        target = (await audit_records(api.db, case["id"]))[1]
        await tamper(api.db, blanked(target))

        result = await verify(api)

        expected = {
            "id": target.id,
            "chain": case["id"],
            "seq": 2,
            "reason": "redacted without a purge record naming it",
        }
        assert result["valid"] is False
        assert result["firstInvalid"] == expected
        code, _out, err = await cli_verify(capsys)
        assert code == 1
        assert json.loads(err.split(": ", 2)[2]) == expected

    async def test_a_record_of_a_case_past_retention_blanked_without_a_purge_record_is_named(
        self, api: Api
    ) -> None:
        case = await closed_long_ago(api)
        records = await audit_records(api.db, case["id"])
        await tamper(api.db, *(blanked(r) for r in records))

        assert (await verify(api))["firstInvalid"] == {
            "id": records[0].id,
            "chain": case["id"],
            "seq": 1,
            "reason": "redacted without a purge record naming it",
        }

    async def test_a_purged_record_given_content_again_is_named(self, api: Api, keyed: None) -> None:
        case = await closed_long_ago(api)
        await retention.purge(api.db, dry_run=False)
        target = (await audit_records(api.db, case["id"]))[2]
        assert target.redacted
        await tamper(
            api.db,
            update(AuditRecord).where(col(AuditRecord.id) == target.id).values(after={"riskLevel": "low"}),
        )

        assert (await verify(api))["firstInvalid"] == {
            "id": target.id,
            "chain": case["id"],
            "seq": 3,
            "reason": "redacted, yet still holds content",
        }


class TestPurge:
    async def test_the_purge_names_what_it_redacts_and_verifies(
        self, api: Api, keyed: None, capsys: pytest.CaptureFixture[str]
    ) -> None:
        case = await closed_long_ago(api)
        before = await audit_records(api.db, case["id"])

        summary = await retention.purge(api.db, dry_run=False)

        after = await audit_records(api.db, case["id"])
        assert summary.cases == [case["reference"]] and all(r.redacted for r in after)
        purge = next(r for r in await audit_records(api.db) if r.action == "retention.purged")
        assert purge.after is not None
        assert purge.after["redacted"] == [[r.seq, r.content_hash] for r in before]
        closing = before[-1]
        assert closing.action == "case.decline"
        assert purge.after["closure"] == [closing.seq, closing.content_hash]
        assert purge.after["retentionYears"] == 6
        result = await verify(api)
        assert (result["valid"], result["redacted"]) == (True, len(before))
        code, out, _err = await cli_verify(capsys)
        assert code == 0 and f"({len(before)} redacted)" in out

    async def test_a_case_the_trail_does_not_show_closed_is_left_as_it_is(
        self, api: Api, keyed: None
    ) -> None:
        clock.freeze(T0)
        case = await api.to_state("assessment")
        # Closed by its row alone, as someone changing the database might make it look.
        async with api.db.transaction() as session:
            await session.execute(
                update(Case).where(col(Case.id) == uuid.UUID(case["id"])).values(state="closed", closed_at=T0)
            )
        clock.advance(PAST_RETENTION)

        summary = await retention.purge(api.db, dry_run=False)

        assert summary.cases == []
        assert summary.unproven == [
            f"case {case['reference']}: the audit trail holds no closing record of it"
        ]
        assert not any(r.redacted for r in await audit_records(api.db, case["id"]))


class TestForgedPurgeRecord:
    async def test_a_purge_of_an_open_case_is_named(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.to_state("assessment")
        clock.advance(PAST_RETENTION)

        purge, records = await forge_purge(api.db, case["id"])

        assert (await verify(api))["firstInvalid"] == {
            "id": records[0].id,
            "chain": case["id"],
            "seq": 1,
            "reason": f"redacted by purge record {purge.id}, which names no closing record of the case",
        }

    async def test_a_purge_within_retention_is_named(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        clock.advance(timedelta(days=365))

        purge, records = await forge_purge(api.db, case["id"])

        assert (await verify(api))["firstInvalid"] == {
            "id": records[0].id,
            "chain": case["id"],
            "seq": 1,
            "reason": f"redacted by purge record {purge.id} while the case was within retention",
        }

    async def test_a_purge_under_a_shorter_period_than_the_service_keeps_is_named(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        clock.advance(timedelta(days=2 * 366))

        purge, _records = await forge_purge(api.db, case["id"], years=1)

        reason = (await verify(api))["firstInvalid"]["reason"]
        assert reason == (
            f"redacted by purge record {purge.id} under 1 years' retention, "
            "fewer than the 6 the service keeps"
        )

    async def test_a_purge_of_a_case_reopened_after_its_closing_is_named(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        closing = (await audit_records(api.db, case["id"]))[-1]
        await api.must_fire(case["id"], "reopen", reason="a new incident between them")
        clock.advance(PAST_RETENTION)

        purge, _records = await forge_purge(api.db, case["id"], closure_seq=closing.seq)

        assert (await verify(api))["firstInvalid"]["reason"] == (
            f"redacted by purge record {purge.id}, though the case was reopened after the closing it names"
        )

    async def test_a_purge_naming_another_content_hash_does_not_cover_the_record(self, api: Api) -> None:
        case = await closed_long_ago(api)

        _purge, records = await forge_purge(api.db, case["id"], seq3="0" * 64)

        assert (await verify(api))["firstInvalid"] == {
            "id": records[2].id,
            "chain": case["id"],
            "seq": 3,
            "reason": "redacted without a purge record naming it",
        }

    async def test_a_purge_whose_first_name_cannot_be_read_is_named_itself(self, api: Api) -> None:
        clock.freeze(T0)
        case = await api.to_state("assessment")
        clock.advance(PAST_RETENTION)
        records = await audit_records(api.db, case["id"])
        purge = await purge_record(
            api.db,
            case["id"],
            retentionYears=6,
            redacted=[["one", "two"], *([r.seq, r.content_hash] for r in records)],
        )
        await tamper(api.db, *(blanked(r) for r in records))

        assert (await verify(api))["firstInvalid"] == {
            "id": purge.id,
            "chain": "global",
            "seq": purge.seq,
            "reason": f"redacted by purge record {purge.id}, which names no closing record of the case",
        }


@pytest.fixture
async def app_role(database_url: str, is_postgres: bool, db: Database) -> AsyncIterator[Database]:
    """The service as a deployment runs it on PostgreSQL: connected as an ordinary role of its own
    (not the tables' owner, not a superuser), allowed to read and write every table."""
    if not is_postgres:
        pytest.skip("SQLite has no roles: the purge records and published heads are what hold there")
    role = f"rj_app_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(database_url)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        await conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
        )
        await conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    url = make_url(database_url).set(username=role).render_as_string(hide_password=False)
    database = Database(Settings(database_url=url))
    try:
        yield database
    finally:
        await database.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


class TestDatabaseRefusesRedaction:
    """PostgreSQL: only `audit_redact`, owned by a role nobody logs in as, may blank a record."""

    async def test_the_application_role_cannot_set_the_flag(self, api: Api, app_role: Database) -> None:
        case = await api.to_state("assessment")
        target = (await audit_records(api.db, case["id"]))[1]
        with pytest.raises(DBAPIError, match="audit records cannot be changed or removed"):
            async with app_role.transaction() as session:
                # Exactly the change `audit_redact` makes.
                await session.execute(
                    text(
                        "UPDATE audit_record SET before = NULL, after = NULL, redacted = true, "
                        """actor = (actor::jsonb || '{"name": null}'::jsonb)::json WHERE id = :id"""
                    ),
                    {"id": target.id},
                )
        with pytest.raises(DBAPIError, match="permission denied to set role"):
            async with app_role.transaction() as session:
                await session.execute(text("SET LOCAL ROLE rj_audit_redactor"))
        assert not (await audit_records(api.db, case["id"]))[1].redacted

    async def test_the_function_refuses_a_purge_record_of_a_case_the_trail_shows_open(
        self, api: Api, app_role: Database
    ) -> None:
        clock.freeze(T0)
        case = await api.to_state("assessment")
        clock.advance(PAST_RETENTION)
        records = await audit_records(api.db, case["id"])
        last = records[-1]
        with pytest.raises(DBAPIError, match="names no closing record of the case"):
            async with app_role.transaction() as session:
                # The case's row made to look closed long ago, and a purge record written for it.
                await session.execute(
                    update(Case)
                    .where(col(Case.id) == uuid.UUID(case["id"]))
                    .values(state="closed", closed_at=datetime(2001, 1, 1, tzinfo=UTC))
                )
                purge = await purge_record(
                    app_role,
                    case["id"],
                    retentionYears=6,
                    closure=[last.seq, last.content_hash],
                    redacted=[[r.seq, r.content_hash] for r in records],
                )
                await session.execute(text("SELECT audit_redact(:id)"), {"id": purge.id})
        assert not any(r.redacted for r in await audit_records(api.db, case["id"]))

    async def test_the_purge_redacts_through_the_function_as_the_application_role(
        self, api: Api, app_role: Database, keyed: None
    ) -> None:
        case = await closed_long_ago(api)

        summary = await retention.purge(app_role, dry_run=False)

        assert summary.cases == [case["reference"]]
        assert all(r.redacted for r in await audit_records(api.db, case["id"]))
        async with api.db.transaction() as session:
            owner = (
                await session.execute(
                    text("SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'audit_redact'")
                )
            ).scalar_one()
            purges = (
                await session.execute(
                    select(AuditRecord).where(col(AuditRecord.action) == "retention.purged")
                )
            ).all()
        assert owner == "rj_audit_redactor" and len(purges) == 1
        assert (await verify(api))["valid"] is True


@pytest.fixture
async def before_redaction(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own at the revision before purges named what they redact."""
    async with database_at(database_url, "0009_client_lifecycle", tmp_path) as url:
        yield url


class TestPurgesFromBefore:
    async def test_the_migration_restates_a_purge_that_named_nothing(
        self, before_redaction: str, db: Database
    ) -> None:
        legacy_db = Database(Settings(database_url=before_redaction))
        try:
            # Today's code makes the case: it writes columns added after this revision.
            async with with_later_columns(before_redaction):
                transport = httpx.ASGITransport(app=create_app(legacy_db.settings, database=legacy_db))
                async with httpx.AsyncClient(transport=transport, base_url="http://rj.test") as client:
                    api = Api(client, await Keys.create(legacy_db), legacy_db)
                    case = await closed_long_ago(api)
                await legacy_db.dispose()
            records = await audit_records(legacy_db, case["id"])
            # As the purge wrote it before: the count of records blanked, and nothing to name them.
            old = await purge_record(
                legacy_db,
                case["id"],
                reference=case["reference"],
                closedAt=T0.isoformat(),
                retentionYears=6,
                auditRecordsRedacted=len(records),
            )
            await tamper(legacy_db, *(blanked(r) for r in records))
        finally:
            await legacy_db.dispose()

        await upgrade(Settings(database_url=before_redaction))

        migrated = Database(Settings(database_url=before_redaction))
        try:
            result = await verify_trail(migrated.engine)
            purges = [r for r in await audit_records(migrated) if r.action == "retention.purged"]
        finally:
            await migrated.dispose()
        assert result.valid, result.first_invalid
        assert result.redacted == len(records)
        restated = purges[-1].after
        assert restated is not None and restated["restates"] == old.id
        assert restated["redacted"] == [[r.seq, r.content_hash] for r in records]
        assert restated["closure"] == [records[-1].seq, records[-1].content_hash]
