"""Retention: closed cases past the period are anonymised, the audit trail still verifies,
and the reports still count them."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, String, Text, select, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from app import clock
from app.audit.service import verify
from app.config import Settings, get_settings
from app.db import Database
from app.errors import ValidationFailedError
from app.models import metadata
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.models.letters import Letter
from app.reports import service as reports
from app.retention import service as retention
from tests.support import Api

FIRST, LAST, PRN = "Zebedee", "Quarrington", "Z9876QQ"
OTHER = ("B2345CD", "Marcus", "Okoye", "harmer")
NEEDLES = (FIRST, LAST, PRN, "Okoye", "B2345CD")
T0 = datetime(2019, 3, 4, 9, 0, tzinfo=UTC)
PAST_RETENTION = timedelta(days=6 * 366)


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("RJ_PSEUDONYM_KEY", "test-pseudonym-key")
    get_settings.cache_clear()


async def worked_case(api: Api, db: Database) -> dict[str, Any]:
    """A case touching every table that holds case data, with the name everywhere it can be."""
    case = await api.refer(parties=[(PRN, FIRST, LAST, "harmed"), OTHER])
    cid = case["id"]
    rep = await api.rep()
    assert (await api.assign(cid, [rep["id"]])).status_code == 200
    await api.ready_for_intervention(cid)
    await api.patch(cid, summary=f"{LAST} was pushed on the stairs", riskNotes=f"{FIRST} fears reprisal")
    await api.must_fire(cid, "start_shuttle")
    party_ids = [p["id"] for p in (await api.case(cid))["parties"]]
    async with db.transaction() as session:
        session.add(
            Letter(
                case_id=uuid.UUID(cid),
                author_party_id=uuid.UUID(party_ids[1]),
                recipient_party_id=uuid.UUID(party_ids[0]),
                body=f"Dear {FIRST} {LAST}, I am sorry.",
                practitioner_comments=f"Fine to pass to {LAST}.",
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    r = await api.client.post(
        "/safeguarding-concerns",
        json={
            "prisonerNumber": PRN,
            "caseId": cid,
            "category": "suicide_risk",
            "detail": f"{LAST} spoke of dying",
        },
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 201, r.text
    r = await api.client.post(
        f"/safeguarding-concerns/{r.json()['id']}/acknowledge",
        json={"acknowledgedBy": "SO Patel", "externalReference": "ACCT-1"},
        headers=api.keys.practitioner.headers,
    )
    assert r.status_code == 200, r.text
    await api.must_fire(cid, "conclude", outcome="resolved")
    tasks = await api.client.get(
        f"/tasks?caseId={cid}&status=open&size=100", headers=api.keys.practitioner.headers
    )
    for task in tasks.json()["content"]:
        r = await api.client.post(
            f"/tasks/{task['id']}/complete",
            json={"outcome": f"saw {FIRST}", "notes": f"{LAST} is calmer", "durationMinutes": 20},
            headers=api.keys.practitioner.headers,
        )
        assert r.status_code == 200, r.text
    await api.must_fire(cid, "close")
    return await api.case(cid)


async def hits(db: Database, needles: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Every (table, column, needle) where a needle appears anywhere in the database."""
    found = []
    async with db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in await conn.execute(select(table)):
                for column, value in zip(table.columns, row, strict=True):
                    for needle in needles:
                        if value is not None and needle in str(value):
                            found.append((table.name, column.name, needle))
    return found


async def summary(db: Database) -> Any:
    async with db.transaction() as session:
        return await reports.summary(
            session, prisons=None, from_date=date(2019, 1, 1), to_date=date(2019, 12, 31)
        )


class TestPurge:
    async def test_name_is_gone_everywhere_audit_verifies_and_reports_still_count(
        self, api: Api, db: Database, keyed: None
    ) -> None:
        clock.freeze(T0)
        case = await worked_case(api, db)
        clock.advance(timedelta(days=1))
        again = await api.refer(parties=[(PRN, FIRST, LAST, "both")])
        await api.must_fire(again["id"], "decline", reason="unsuitable")
        assert {n for _t, _c, n in await hits(db, NEEDLES)} == set(NEEDLES)
        clock.advance(timedelta(days=60))  # every wellbeing check now due, so the report is settled
        report_before = await summary(db)
        assert report_before.cases_referred == 2
        assert report_before.reoffending.incidents_after == 1  # the second case, about the same man

        clock.advance(PAST_RETENTION)
        result = await retention.purge(db, dry_run=False)

        assert sorted(result.cases) == sorted([case["reference"], again["reference"]])
        assert await hits(db, NEEDLES) == []
        async with db.transaction() as session:
            check = await verify(session)
            redacted = (
                await session.execute(select(AuditRecord).where(col(AuditRecord.redacted).is_(True)))
            ).all()
            purged = (
                await session.execute(
                    select(AuditRecord).where(col(AuditRecord.action) == "retention.purged")
                )
            ).scalars()
            assert {r.chain for r in purged} == {"global"}
        assert check.valid, check.first_invalid
        assert check.redacted == len(redacted) == result.audit_records_redacted > 10
        assert await summary(db) == report_before
        view = await api.case(case["id"], key=api.keys.admin)
        assert view["state"] == "closed" and view["outcome"] == "resolved"
        assert {(p["firstName"], p["lastName"]) for p in view["parties"]} == {("REDACTED", "REDACTED")}
        pseudonyms = {p["prisonerNumber"] for p in view["parties"]}
        assert all(n.startswith("x") and len(n) == 7 for n in pseudonyms)
        second = await api.case(again["id"], key=api.keys.admin)
        assert second["parties"][0]["prisonerNumber"] in pseudonyms  # stable across cases
        assert view["summary"] is None and view["riskNotes"] is None and view["description"] is None
        timeline = await api.client.get(f"/cases/{case['id']}/timeline", headers=api.keys.admin.headers)
        assert {e["text"] for e in timeline.json()} == {"Details removed under the retention policy."}

    async def test_concern_without_a_case_is_purged_once_acknowledged_long_enough(
        self, api: Api, db: Database, keyed: None
    ) -> None:
        clock.freeze(T0)
        ids = []
        for detail in (f"{LAST} spoke of dying", f"{LAST} is still at risk"):
            r = await api.client.post(
                "/safeguarding-concerns",
                json={"prisonerNumber": PRN, "category": "suicide_risk", "detail": detail},
                headers=api.keys.practitioner.headers,
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        await api.client.post(
            f"/safeguarding-concerns/{ids[0]}/acknowledge",
            json={"acknowledgedBy": f"SO {LAST}"},
            headers=api.keys.practitioner.headers,
        )
        clock.advance(PAST_RETENTION)
        result = await retention.purge(db, dry_run=False)
        assert (result.cases, result.concerns) == ([], 1)
        found = await hits(db, (LAST, PRN))
        # Only the concern still open keeps its detail and number.
        assert {t for t, _c, _n in found} <= {"safeguarding_concern", "task", "audit_record", "outbox_event"}
        r = await api.client.get(f"/safeguarding-concerns/{ids[0]}", headers=api.keys.practitioner.headers)
        assert (r.json()["detail"], r.json()["acknowledgedBy"]) == ("REDACTED", None)
        assert r.json()["prisonerNumber"].startswith("x")
        r = await api.client.get(f"/safeguarding-concerns/{ids[1]}", headers=api.keys.practitioner.headers)
        assert r.json()["detail"] == f"{LAST} is still at risk"
        async with db.transaction() as session:
            check = await verify(session)
            records = (
                await session.execute(select(AuditRecord).where(col(AuditRecord.entity_id) == ids[0]))
            ).scalars()
            assert {(r.action, r.redacted) for r in records} == {
                ("concern.raised", True),
                ("concern.acknowledged", True),
                ("retention.purged", False),
            }
        assert check.valid and check.redacted == 2
        await api.client.post(
            f"/safeguarding-concerns/{ids[1]}/acknowledge",
            json={"acknowledgedBy": "SO Patel"},
            headers=api.keys.practitioner.headers,
        )
        clock.advance(PAST_RETENTION)
        assert (await retention.purge(db, dry_run=False)).concerns == 1
        assert await hits(db, (LAST, PRN)) == []

    async def test_case_inside_the_period_is_kept(self, api: Api, db: Database, keyed: None) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        clock.advance(timedelta(days=5 * 365))
        result = await retention.purge(db, dry_run=False)
        assert result.cases == []
        assert (await api.case(case["id"]))["parties"][0]["firstName"] == "Dean"

    async def test_open_case_is_never_purged(self, api: Api, db: Database, keyed: None) -> None:
        clock.freeze(T0)
        await api.to_state("follow_up")
        clock.advance(PAST_RETENTION)
        assert (await retention.purge(db, dry_run=False)).cases == []

    async def test_dry_run_lists_and_changes_nothing(self, api: Api, db: Database) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        clock.advance(PAST_RETENTION)
        result = await retention.purge(db, dry_run=True)
        assert result.cases == [case["reference"]]
        assert {n for _t, _c, n in await hits(db, ("Dean",))} == {"Dean"}
        async with db.transaction() as session:
            assert (await verify(session)).redacted == 0

    async def test_without_a_pseudonym_key_nothing_is_purged(self, api: Api, db: Database) -> None:
        clock.freeze(T0)
        await api.to_state("closed")
        clock.advance(PAST_RETENTION)
        with pytest.raises(ValidationFailedError):
            await retention.purge(db, dry_run=False)

    async def test_audit_guard_still_refuses_changes_outside_a_purge(
        self, api: Api, db: Database, is_postgres: bool
    ) -> None:
        if not is_postgres:
            pytest.skip("the audit table's guard is a PostgreSQL trigger")
        await api.refer()
        with pytest.raises(DBAPIError):
            async with db.transaction() as session:
                await session.execute(update(AuditRecord).values(redacted=True, before=None))


class TestLegalHold:
    async def test_held_case_is_kept_until_released(self, api: Api, db: Database, keyed: None) -> None:
        clock.freeze(T0)
        case = await api.to_state("closed")
        url = f"/cases/{case['id']}/legal-hold"
        r = await api.client.put(
            url, json={"hold": True, "reason": "civil claim pending"}, headers=api.keys.admin.headers
        )
        assert r.status_code == 200, r.text
        assert r.json() == {
            "caseId": case["id"],
            "reference": case["reference"],
            "legalHold": True,
            "reason": "civil claim pending",
        }
        clock.advance(PAST_RETENTION)
        result = await retention.purge(db, dry_run=False)
        assert (result.cases, result.held) == ([], [case["reference"]])
        timeline = (
            await api.client.get(
                f"{url.removesuffix('/legal-hold')}/timeline", headers=api.keys.admin.headers
            )
        ).json()
        assert timeline[-1]["text"] == "Legal hold placed: civil claim pending."
        await api.client.put(url, json={"hold": False}, headers=api.keys.admin.headers)
        result = await retention.purge(db, dry_run=False)
        assert result.cases == [case["reference"]]
        r = await api.client.put(
            url, json={"hold": True, "reason": "too late"}, headers=api.keys.admin.headers
        )
        assert r.status_code == 409

    async def test_only_admins_set_it(self, api: Api) -> None:
        case = await api.to_state("closed")
        for key in (api.keys.practitioner, api.keys.manager, api.keys.auditor):
            r = await api.client.put(
                f"/cases/{case['id']}/legal-hold", json={"hold": True, "reason": "x"}, headers=key.headers
            )
            assert r.status_code == 403

    async def test_hold_needs_a_reason(self, api: Api) -> None:
        case = await api.to_state("closed")
        r = await api.client.put(
            f"/cases/{case['id']}/legal-hold", json={"hold": True}, headers=api.keys.admin.headers
        )
        assert r.status_code == 422


class TestPurgeCommand:
    async def test_dry_run_then_purge_then_verify(self, api: Api, db: Database, settings: Settings) -> None:
        # Closed long ago by the service's own clock, so its audit trail shows the closing then.
        clock.freeze(datetime(2012, 5, 1, tzinfo=UTC))
        case = await api.to_state("closed")
        clock.unfreeze()
        await db.dispose()  # let the command have the database to itself
        env = {**os.environ, "RJ_DATABASE_URL": settings.database_url, "RJ_PSEUDONYM_KEY": "cli-key"}
        command = [sys.executable, "-m", "app.cli"]

        dry = subprocess.run(
            [*command, "retention", "purge", "--dry-run"], env=env, capture_output=True, text=True
        )
        assert dry.returncode == 0, dry.stderr
        assert "would anonymise 1 case(s)" in dry.stdout and case["reference"] in dry.stdout

        run = subprocess.run([*command, "retention", "purge"], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "purging [" in run.stderr and "1/1" in run.stderr
        assert "anonymised 1 case(s)" in run.stdout and "audit record(s) redacted" in run.stdout

        audit = subprocess.run([*command, "audit", "verify"], env=env, capture_output=True, text=True)
        assert audit.returncode == 0, audit.stderr
        assert "redacted)" in audit.stdout and "(0 redacted)" not in audit.stdout

    async def test_without_a_key_it_fails_with_one_line(
        self, api: Api, db: Database, settings: Settings
    ) -> None:
        case = await api.to_state("closed")
        async with db.transaction() as session:
            await session.execute(
                update(Case)
                .where(col(Case.id) == uuid.UUID(case["id"]))
                .values(closed_at=datetime(2012, 5, 1, tzinfo=UTC))
            )
        await db.dispose()
        env = {k: v for k, v in os.environ.items() if k != "RJ_PSEUDONYM_KEY"}
        env["RJ_DATABASE_URL"] = settings.database_url
        run = subprocess.run(
            [sys.executable, "-m", "app.cli", "retention", "purge"], env=env, capture_output=True, text=True
        )
        assert run.returncode == 1
        assert run.stderr.count("\n") == 1 and "RJ_PSEUDONYM_KEY" in run.stderr


class TestPurgePlan:
    def test_every_text_column_of_case_data_is_redacted_or_kept_on_purpose(self) -> None:
        planned: dict[str, set[str]] = {"rj_case": set(retention.CASE_REDACTIONS)}
        for model, values in retention.REDACTIONS:
            planned.setdefault(model.__tablename__, set()).update(values)
        for model in retention.PSEUDONYMISED:
            planned.setdefault(model.__tablename__, set()).add("prisoner_number")
        for table, columns in {**retention.KEPT, **retention.HANDLED}.items():
            planned.setdefault(table, set()).update(columns)
        missing = []
        for table in metadata.sorted_tables:
            if table.name != "rj_case" and "case_id" not in table.columns:
                continue
            for column in table.columns:
                textual = isinstance(column.type, String | Text | JSON)
                if textual and column.name not in planned.get(table.name, set()):
                    missing.append(f"{table.name}.{column.name}")
        assert missing == [], "add these to the purge plan in app/retention/service.py"
