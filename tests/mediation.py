"""Helpers for the mediation tests: cases with reps, and reading what the database holds."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app.models.audit import AuditRecord
from app.models.events import OutboxEvent
from app.models.tasks import Task
from tests.support import Api, Key, until


async def case_with_rep(
    api: Api, *, state: str = "assessment", reps: int = 1, risk: str = "low", **refer: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A case with `reps` active reps assigned before acceptance, brought to `state`."""
    case = await api.refer(**refer)
    cid = case["id"]
    made = [await api.rep() for _ in range(reps)]
    if made:
        r = await api.assign(cid, [m["id"] for m in made])
        assert r.status_code == 200, r.text
    if state == "referred":
        return await api.case(cid), made
    await api.ready_for_intervention(cid, risk=risk)
    party = case["parties"][0]["id"]
    steps: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "assessment": [],
        "shuttle_mediation": [("start_shuttle", {})],
        "letter_exchange": [("start_letters", {"partyId": party})],
        "conference": [("schedule_conference", {"conference": api.conference()})],
        "follow_up": [("start_shuttle", {}), ("conclude", {"outcome": "resolved"})],
        "on_hold": [("pause", {"until": until(hours=24), "reason": "cooling off"})],
    }
    for trigger, body in steps[state]:
        await api.must_fire(cid, trigger, **body)
    return await api.case(cid), made


async def rep_key(api: Api, rep: dict[str, Any]) -> Key:
    """A bearer key bound to the rep."""
    return await api.keys.rep(uuid.UUID(rep["id"]), rep["prisonId"])


async def tasks_of(api: Api, case_id: str, kind: str | None = None) -> list[Task]:
    """The case's tasks, straight from the database, soonest due first."""
    async with api.db.transaction() as session:
        stmt = select(Task).where(col(Task.case_id) == uuid.UUID(case_id))
        if kind:
            stmt = stmt.where(col(Task.kind) == kind)
        rows = await session.execute(stmt.order_by(col(Task.due_at), col(Task.id)))
        return list(rows.scalars())


async def audit_of(api: Api, case_id: str, action: str | None = None) -> list[AuditRecord]:
    """The case's audit records, oldest first."""
    async with api.db.transaction() as session:
        stmt = select(AuditRecord).where(col(AuditRecord.chain) == case_id)
        if action:
            stmt = stmt.where(col(AuditRecord.action) == action)
        rows = await session.execute(stmt.order_by(col(AuditRecord.seq)))
        return list(rows.scalars())


async def events_of(api: Api, event_type: str) -> list[OutboxEvent]:
    """Outbound events of a type, in order."""
    async with api.db.transaction() as session:
        rows = await session.execute(
            select(OutboxEvent)
            .where(col(OutboxEvent.event_type) == event_type)
            .order_by(col(OutboxEvent.position))
        )
        return list(rows.scalars())


def at(value: str) -> datetime:
    """Parse an RFC 3339 time from a response."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
