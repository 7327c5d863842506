"""Helpers for the mediation tests: cases with reps, and reading what the database holds."""

import html
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app import clock
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


@dataclass
class RepDay:
    """A rep's list for one day as the rep reads it: the tasks as JSON, and the printed sheet."""

    tasks: list[dict[str, Any]]
    sheet: str

    @property
    def ids(self) -> set[str]:
        """The ids of the tasks listed."""
        return {t["id"] for t in self.tasks}

    def rows(self) -> list[list[str]]:
        """The sheet's task lines, each as the text of its cells (box, when, case, what, whom, where)."""
        body = re.search(r"<tbody>(.*?)</tbody>", self.sheet, re.S)
        if body is None:
            return []
        return [
            [
                html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
                for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)
            ]
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
        ]


async def rep_day(api: Api, rep: dict[str, Any], day: str | None = None) -> RepDay:
    """The rep's list as the rep reads it, as JSON and printed, for `day` (by default four weeks
    from now, when everything open is due or overdue and so listed)."""
    day = day or (clock.now() + timedelta(days=28)).date().isoformat()
    headers = (await rep_key(api, rep)).headers
    listed = await api.client.get(f"/reps/{rep['id']}/tasks", params={"date": day}, headers=headers)
    printed = await api.client.get(
        f"/reps/{rep['id']}/tasks", params={"date": day}, headers={**headers, "Accept": "text/html"}
    )
    for r in (listed, printed):
        assert r.status_code == 200, r.text
    assert listed.json()["date"] == day
    assert printed.headers["content-type"].startswith("text/html")
    return RepDay(tasks=list(listed.json()["tasks"]), sheet=printed.text)


async def feed_of(api: Api, case_id: str) -> list[dict[str, Any]]:
    """The case's outbound events as a subscriber reads them (`GET /events`, as a manager of the
    case's prison), in order."""
    r = await api.client.get("/events", params={"limit": "500"}, headers=api.keys.manager.headers)
    assert r.status_code == 200, r.text
    return [e for e in r.json()["content"] if e["additionalInformation"].get("caseId") == case_id]


def unmet_names(r: Any) -> list[str]:
    """The guards a 409 `GUARD_FAILED` answer names."""
    assert r.status_code == 409, r.text
    assert r.json()["errorCode"] == "GUARD_FAILED"
    return [g["name"] for g in r.json()["unmetGuards"]]


async def outcome(api: Api, case_id: str, held: bool = True) -> Any:
    """Record the case's conference as held (or not), returning the raw response."""
    return await api.client.post(
        f"/cases/{case_id}/conference/outcome",
        json={"held": held, "attendees": ["both parties"]},
        headers=api.keys.practitioner.headers,
    )


async def reviews(api: Api, case_id: str) -> list[Task]:
    """The case's open practitioner reviews."""
    return [t for t in await tasks_of(api, case_id, "practitioner_review") if t.status == "open"]
