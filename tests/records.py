"""Reading and preparing rows straight from the database, for tests that check what was stored."""

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlmodel import col

from app import clock
from app.db import Database
from app.models.audit import AuditRecord
from app.models.cases import Case
from app.models.conferences import Conference
from app.models.events import OutboxEvent
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from tests.support import Key


async def audit_records(db: Database, case_id: str | None = None) -> list[AuditRecord]:
    """Audit records in the order written (of one case when given)."""
    async with db.transaction() as session:
        stmt = select(AuditRecord).order_by(col(AuditRecord.id))
        if case_id is not None:
            stmt = stmt.where(col(AuditRecord.chain) == case_id)
        return list((await session.execute(stmt)).scalars())


async def count_audit_records(db: Database) -> int:
    """Every audit record, whatever its chain."""
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(AuditRecord))).scalar_one())


async def events(db: Database, case_id: str) -> list[OutboxEvent]:
    """The outbound events of a case, in order."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(OutboxEvent)
            .where(col(OutboxEvent.case_id) == uuid.UUID(case_id))
            .order_by(col(OutboxEvent.position))
        )
        return list(rows.scalars())


async def count_cases(db: Database) -> int:
    """How many cases exist."""
    async with db.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(Case))).scalar_one())


async def case_row(db: Database, case_id: str) -> Case:
    """The case's row."""
    async with db.transaction() as session:
        case = await session.get(Case, uuid.UUID(case_id))
        assert case is not None
        return case


async def tasks_of(db: Database, case_id: str, kind: str | None = None) -> list[Task]:
    """A case's tasks (of one kind when given), soonest due first."""
    async with db.transaction() as session:
        stmt = select(Task).where(col(Task.case_id) == uuid.UUID(case_id))
        if kind is not None:
            stmt = stmt.where(col(Task.kind) == kind)
        return list((await session.execute(stmt.order_by(col(Task.due_at), col(Task.id)))).scalars())


async def conference_row(db: Database, case_id: str) -> Conference:
    """The case's conference as stored."""
    async with db.transaction() as session:
        rows = await session.execute(select(Conference).where(col(Conference.case_id) == uuid.UUID(case_id)))
        return rows.scalar_one()


async def mark_conference_held(db: Database, case_id: str) -> None:
    """Record the case's conference as held (what the conference-outcome endpoint will do)."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Conference)
            .where(col(Conference.case_id) == uuid.UUID(case_id))
            .values(held=True, outcome_recorded_at=clock.now())
        )
        assert result.rowcount == 1  # type: ignore[attr-defined]


async def raise_concern(db: Database, case: dict[str, Any], status: str = "open") -> uuid.UUID:
    """A safeguarding concern on the case's first party."""
    concern = SafeguardingConcern(
        prisoner_number=case["parties"][0]["prisonerNumber"],
        prison_id=case["prisonId"],
        case_id=uuid.UUID(case["id"]),
        category="self_harm",
        detail="Said he has been thinking about hurting himself.",
        status=status,
        raised_at=clock.now(),
    )
    async with db.transaction() as session:
        session.add(concern)
    return concern.id


async def acknowledge_concern(db: Database, concern_id: uuid.UUID) -> None:
    """Mark a concern acknowledged by staff."""
    async with db.transaction() as session:
        concern = await session.get(SafeguardingConcern, concern_id)
        assert concern is not None
        concern.status = "acknowledged"
        concern.acknowledged_by = "Safer custody"
        concern.acknowledged_at = clock.now()


async def complete_wellbeing_checks(client: httpx.AsyncClient, db: Database, key: Key, case_id: str) -> int:
    """Complete every open wellbeing check of the case through the API; how many were done."""
    done = 0
    for task in await tasks_of(db, case_id, kind="wellbeing_check"):
        if task.status != "open":
            continue
        r = await client.post(
            f"/tasks/{task.id}/complete",
            json={"outcome": "seen, doing well", "durationMinutes": 15},
            headers=key.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "done"
        done += 1
    return done
