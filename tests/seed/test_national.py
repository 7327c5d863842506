"""The national data set generator, at a tiny scale: what it writes verifies and works."""

import json
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlmodel import col

from app.audit.chain import content_hash
from app.audit.service import verify
from app.db import Database
from app.models.audit import AuditChainHead, AuditRecord
from app.models.cases import Case, Consent, Party
from app.models.incidents import IncidentRecord
from app.models.tasks import Task
from app.reports.outcomes import outcomes
from app.seed.national import Plan, load_national

SCALE = 0.0004  # 120 cases, 2 prisons


async def _count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


class TestLoadNational:
    async def test_every_chain_verifies_and_counts_follow_the_plan(
        self, db: Database, tmp_path: Path
    ) -> None:
        assert await load_national(db, scale=SCALE, keys_file=tmp_path / "keys.json", progress=False) == 0

        result = await verify(db.engine)
        plan = Plan.scaled(SCALE)
        assert result.valid, result.first_invalid
        assert result.checked == plan.audit_records
        assert await _count(db, AuditRecord) == plan.audit_records
        assert await _count(db, Case) == plan.cases
        assert await _count(db, Party) == plan.cases * 10 // 3
        assert await _count(db, Consent) == plan.consents
        assert await _count(db, Task) == plan.tasks

    async def test_parties_have_an_incident_history_for_the_outcomes_report(
        self, db: Database, tmp_path: Path
    ) -> None:
        await load_national(db, scale=SCALE, keys_file=tmp_path / "keys.json", progress=False)

        async with db.transaction() as session:
            rows = list((await session.execute(select(IncidentRecord))).scalars())
            parties = {p.prisoner_number: p.case_id for p in (await session.execute(select(Party))).scalars()}
            cases = {c.id: c for c in (await session.execute(select(Case))).scalars()}
            report = await outcomes(
                session, prisons=None, from_date=date(2020, 1, 1), to_date=date(2030, 1, 1)
            )
        assert rows and all(r.prisoner_number in parties for r in rows)
        index = [r for r in rows if r.case_id is not None]
        # The reports the incident system's cases were made from, for each of their parties.
        assert index and all(cases[r.case_id].source_system == "IRS" for r in index)
        assert all(r.occurred_at == cases[r.case_id].incident_occurred_at for r in index)
        assert report.periods[0].participants

    async def test_records_hash_as_the_service_hashes_them(self, db: Database, tmp_path: Path) -> None:
        await load_national(db, scale=SCALE, keys_file=tmp_path / "keys.json", progress=False)

        async with db.transaction() as session:
            records = list((await session.execute(select(AuditRecord))).scalars())
            cases = list((await session.execute(select(Case))).scalars())
            head = (await session.execute(select(AuditChainHead))).scalar_one()
        assert all(content_hash(r) == r.content_hash for r in records)
        ends = {}
        for r in records:
            if r.seq > ends.get(r.chain, (0, ""))[0]:
                ends[r.chain] = (r.seq, r.hash)
        assert all(ends[str(c.id)] == (c.audit_seq, c.audit_head) for c in cases)
        assert ends["global"] == (head.seq, head.hash)

    async def test_cases_are_in_every_state(self, db: Database, tmp_path: Path) -> None:
        await load_national(db, scale=0.002, keys_file=tmp_path / "keys.json", progress=False)

        async with db.transaction() as session:
            states = set((await session.execute(select(Case.state).distinct())).scalars())  # type: ignore[call-overload]
        assert states == {
            "referred",
            "assessment",
            "shuttle_mediation",
            "letter_exchange",
            "conference",
            "follow_up",
            "on_hold",
            "closed",
        }

    async def test_the_safety_rules_are_shown_at_work(self, db: Database, tmp_path: Path) -> None:
        await load_national(db, scale=0.002, keys_file=tmp_path / "keys.json", progress=False)

        async with db.transaction() as session:
            called_off = list(
                (
                    await session.execute(
                        select(AuditRecord).where(col(AuditRecord.action) == "case.call_off")
                    )
                ).scalars()
            )
            preparation = list(
                (
                    await session.execute(
                        select(Task).where(
                            col(Task.kind) == "conference_preparation",
                            col(Task.cancel_reason) == "The conference was called off.",
                        )
                    )
                ).scalars()
            )
            out = list(
                (await session.execute(select(Party).where(col(Party.participating).is_(False)))).scalars()
            )
            out_cases = {p.case_id: await session.get(Case, p.case_id) for p in out}
            declined_visits = list(
                (
                    await session.execute(
                        select(Task).where(
                            col(Task.kind) == "assessment_visit",
                            col(Task.status) == "cancelled",
                            col(Task.cancel_reason) == "The case was declined.",
                        )
                    )
                ).scalars()
            )
            declined = {t.case_id: await session.get(Case, t.case_id) for t in declined_visits}
            parties = {
                case_id: int(
                    (
                        await session.execute(
                            select(func.count()).select_from(Party).where(col(Party.case_id) == case_id)
                        )
                    ).scalar_one()
                )
                for case_id in out_cases
            }
        # A conference called off, its preparation cancelled with the reason.
        assert called_off
        assert {r.after["cancelledTaskIds"][0] for r in called_off if r.after} == {
            str(t.id) for t in preparation
        }
        assert all(t.status == "cancelled" and t.cancelled_at is not None for t in preparation)
        # One party of three or more withdrew; the case goes on without them.
        assert out
        assert all(p.follow_up == "practitioner_only" for p in out)
        assert all(c is not None and c.state == "shuttle_mediation" for c in out_cases.values())
        assert all(n >= 3 for n in parties.values())
        # A declined case whose assessment visits were cancelled, with the reason.
        assert declined_visits
        assert all(c is not None and c.state == "closed" and c.decline_reason for c in declined.values())
        assert all(t.cancelled_at is not None for t in declined_visits)
        assert (await verify(db.engine)).valid

    async def test_written_keys_work_against_the_api(
        self, db: Database, client: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        await load_national(db, scale=SCALE, keys_file=tmp_path / "keys.json", progress=False)
        keys = json.loads((tmp_path / "keys.json").read_text())
        async with db.transaction() as session:
            case = (
                await session.execute(select(Case).where(Case.state == "assessment").limit(1))
            ).scalar_one()

        r = await client.get(
            f"/cases/{case.id}", headers={"Authorization": f"Bearer {keys['practitioners'][case.prison_id]}"}
        )
        paused = await client.post(
            f"/cases/{case.id}/transitions",
            json={"trigger": "pause", "until": "2099-01-01T00:00:00+00:00", "reason": "cooling off"},
            headers={"Authorization": f"Bearer {keys['practitioners'][case.prison_id]}"},
        )

        assert r.status_code == 200
        assert r.json()["reference"] == case.reference
        assert paused.status_code == 200, paused.text
        assert (await verify(db.engine)).valid

    async def test_a_database_with_cases_is_refused(self, db: Database, tmp_path: Path) -> None:
        await load_national(db, scale=SCALE, keys_file=tmp_path / "keys.json", progress=False)

        assert await load_national(db, scale=SCALE, keys_file=tmp_path / "again.json", progress=False) == 1
        assert await _count(db, Case) == Plan.scaled(SCALE).cases
