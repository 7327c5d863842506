"""Subject access: everything held about one prisoner, as a party, a rep, or named in a concern.

Other people's personal data is left out: another party of the same case appears only by role,
and audit records keep a third party only as `{"thirdParty": true, "role": ...}`.

Only what lies in the caller's caseload is searched: the cases of its prisons and what hangs off
them, a rep record of a rep in its prisons, the concerns and tasks of its prisons. A prisoner held
only elsewhere is answered as one nothing is held about: nothing about them is revealed.
"""

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.auth.access import cases_in_caseload, concern_scope, incident_scope, rep_scope, task_scope
from app.cases.service import party_snapshot
from app.common.dates import day_end, day_start
from app.common.jsonable import plain
from app.context import Principal
from app.models.audit import GLOBAL_CHAIN, AuditRecord
from app.models.cases import Case, CaseRep, Consent, Party, Responsibility
from app.models.feedback import Feedback
from app.models.incidents import IncidentRecord
from app.models.notes import Note
from app.models.reps import Rep
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task
from app.reps.service import rep_snapshot


def _within(column: Any, start: datetime | None, end: datetime | None) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [true()]
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return and_(*conditions)


async def subject_access(
    session: AsyncSession,
    principal: Principal,
    prn: str,
    *,
    from_date: date | None,
    to_date: date | None,
) -> dict[str, Any] | None:
    """The document for prisoner `prn` within the caller's caseload, or None when nothing is held
    about them there."""
    start = day_start(from_date) if from_date else None
    end = day_end(to_date) if to_date else None
    in_cases = cases_in_caseload(principal)
    parties = list(
        (
            await session.execute(
                select(Party)
                .join(Case, col(Case.id) == col(Party.case_id))
                .where(col(Party.prisoner_number) == prn, in_cases)
            )
        ).scalars()
    )
    reps = list(
        (
            await session.execute(select(Rep).where(col(Rep.prisoner_number) == prn, rep_scope(principal)))
        ).scalars()
    )
    rep_ids = [r.id for r in reps]
    rep_case_ids = (
        set(
            (
                await session.execute(select(col(CaseRep.case_id)).where(col(CaseRep.rep_id).in_(rep_ids)))
            ).scalars()
        )
        if rep_ids
        else set()
    )
    concerns = list(
        (
            await session.execute(
                select(SafeguardingConcern)
                .where(
                    col(SafeguardingConcern.prisoner_number) == prn,
                    concern_scope(principal),
                    _within(col(SafeguardingConcern.raised_at), start, end),
                )
                .order_by(col(SafeguardingConcern.raised_at))
            )
        ).scalars()
    )
    incidents = list(
        (
            await session.execute(
                select(IncidentRecord)
                .where(
                    col(IncidentRecord.prisoner_number) == prn,
                    incident_scope(principal),
                    _within(col(IncidentRecord.occurred_at), start, end),
                )
                .order_by(col(IncidentRecord.occurred_at))
            )
        ).scalars()
    )
    party_case_ids = {p.case_id for p in parties}
    case_ids = party_case_ids | rep_case_ids | {c.case_id for c in concerns if c.case_id}
    cases: dict[uuid.UUID, Case] = {}
    if case_ids:
        case_window = and_(
            true() if end is None else col(Case.created_at) < end,
            true() if start is None else col(Case.updated_at) >= start,
        )
        for case in (
            await session.execute(
                select(Case)
                .where(col(Case.id).in_(case_ids), in_cases, case_window)
                .order_by(col(Case.created_at))
            )
        ).scalars():
            cases[case.id] = case
    parties = [p for p in parties if p.case_id in cases]
    party_ids = [p.id for p in parties]
    consents = await _consents(session, party_ids)
    acknowledgements = await _responsibility(session, party_ids)
    notes = await _notes(session, [p.case_id for p in parties])
    answers = await _feedback(session, party_ids)
    others = await _other_parties(session, [cid for cid in cases if cid in party_case_ids], prn)
    tasks = await _tasks(session, principal, party_ids, rep_ids, concerns, start, end)
    subject_ids = {str(i) for i in [*party_ids, *rep_ids, *(c.id for c in concerns), *(t.id for t in tasks)]}
    audit = await _audit(session, list(cases), subject_ids, prn, start, end)

    content = {
        "prisonerNumber": prn,
        "cases": [
            _case_entry(
                cases[p.case_id],
                p,
                consents.get(p.id, []),
                acknowledgements.get(p.id, []),
                answers.get(p.id, []),
                others.get(p.case_id, []),
                notes.get(p.case_id, []),
            )
            for p in parties
        ],
        "repRecords": [_rep_entry(r) for r in reps if start is None or r.updated_at >= start],
        "repAssignments": [
            {"caseId": c.id, "reference": c.reference, "prisonId": c.prison_id, "state": c.state}
            for cid, c in cases.items()
            if cid in rep_case_ids
        ],
        "safeguardingConcerns": [_concern_entry(c) for c in concerns],
        "incidents": [
            {
                "reportKey": i.report_key,
                "occurredAt": i.occurred_at,
                "prisonId": i.prison_id,
                "family": i.family,
                "part": i.part,
                "type": i.incident_type,
            }
            for i in incidents
        ],
        "tasks": [
            _task_entry(t, as_rep=t.party_id not in party_ids and t.assignee_id in rep_ids) for t in tasks
        ],
        "auditRecords": audit,
    }
    if not any(content[k] for k in content if k != "prisonerNumber"):
        return None
    return plain(content)  # type: ignore[no-any-return]


async def _notes(session: AsyncSession, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Note]]:
    found: dict[uuid.UUID, list[Note]] = {}
    if case_ids:
        rows = await session.execute(
            select(Note).where(col(Note.case_id).in_(case_ids)).order_by(col(Note.written_at), col(Note.id))
        )
        for note in rows.scalars():
            found.setdefault(note.case_id, []).append(note)
    return found


async def _responsibility(
    session: AsyncSession, party_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Responsibility]]:
    found: dict[uuid.UUID, list[Responsibility]] = {}
    if party_ids:
        for entry in (
            await session.execute(
                select(Responsibility)
                .where(col(Responsibility.party_id).in_(party_ids))
                .order_by(col(Responsibility.audit_seq))
            )
        ).scalars():
            found.setdefault(entry.party_id, []).append(entry)
    return found


async def _feedback(session: AsyncSession, party_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Feedback]]:
    found: dict[uuid.UUID, list[Feedback]] = {}
    if party_ids:
        for entry in (
            await session.execute(
                select(Feedback)
                .where(col(Feedback.party_id).in_(party_ids))
                .order_by(col(Feedback.recorded_at), col(Feedback.stage))
            )
        ).scalars():
            found.setdefault(entry.party_id, []).append(entry)
    return found


async def _consents(session: AsyncSession, party_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Consent]]:
    found: dict[uuid.UUID, list[Consent]] = {}
    if party_ids:
        for consent in (
            await session.execute(
                select(Consent).where(col(Consent.party_id).in_(party_ids)).order_by(col(Consent.audit_seq))
            )
        ).scalars():
            found.setdefault(consent.party_id, []).append(consent)
    return found


async def _other_parties(
    session: AsyncSession, case_ids: list[uuid.UUID], prn: str
) -> dict[uuid.UUID, list[str]]:
    roles: dict[uuid.UUID, list[str]] = {}
    if case_ids:
        rows = await session.execute(
            select(Party.case_id, Party.role).where(  # type: ignore[call-overload]
                col(Party.case_id).in_(case_ids), col(Party.prisoner_number) != prn
            )
        )
        for case_id, role in rows:
            roles.setdefault(case_id, []).append(role)
    return roles


async def _tasks(
    session: AsyncSession,
    principal: Principal,
    party_ids: list[uuid.UUID],
    rep_ids: list[uuid.UUID],
    concerns: list[SafeguardingConcern],
    start: datetime | None,
    end: datetime | None,
) -> list[Task]:
    about: list[ColumnElement[bool]] = []
    if party_ids:
        about.append(col(Task.party_id).in_(party_ids))
    if rep_ids:
        about.append(and_(col(Task.assignee_type) == "rep", col(Task.assignee_id).in_(rep_ids)))
    concern_tasks = [t for c in concerns for t in (c.task_id, c.check_task_id) if t]
    if concern_tasks:
        about.append(col(Task.id).in_(concern_tasks))
    if not about:
        return []
    rows = await session.execute(
        select(Task)
        .where(or_(*about), task_scope(principal), _within(col(Task.created_at), start, end))
        .order_by(col(Task.created_at), col(Task.id))
    )
    return list(rows.scalars())


async def _audit(
    session: AsyncSession,
    case_ids: list[uuid.UUID],
    subject_ids: set[str],
    prn: str,
    start: datetime | None,
    end: datetime | None,
) -> list[dict[str, Any]]:
    where: list[ColumnElement[bool]] = []
    if case_ids:
        where.append(col(AuditRecord.case_id).in_(case_ids))
    if subject_ids:
        where.append(
            and_(col(AuditRecord.chain) == GLOBAL_CHAIN, col(AuditRecord.entity_id).in_(sorted(subject_ids)))
        )
    if not where:
        return []
    rows = await session.execute(
        select(AuditRecord)
        .where(or_(*where), _within(col(AuditRecord.occurred_at), start, end))
        .order_by(col(AuditRecord.occurred_at), col(AuditRecord.id))
    )
    out = []
    for record in rows.scalars():
        text = json.dumps([record.actor, record.before, record.after])
        if (
            record.entity_id not in subject_ids
            and prn not in text
            and not any(i in text for i in subject_ids)
        ):
            continue
        out.append(
            {
                "occurredAt": record.occurred_at,
                "caseId": record.case_id,
                "action": record.action,
                "entityType": record.entity_type,
                "entityId": record.entity_id,
                "actor": {"name": record.actor.get("name"), "role": record.actor.get("role")},
                "before": _scrub(record.before, prn),
                "after": _scrub(record.after, prn),
                "redacted": record.redacted,
            }
        )
    return out


def _scrub(value: Any, prn: str) -> Any:
    """Keep the subject's data; replace anyone else's with their role alone."""
    if isinstance(value, dict):
        number = value.get("prisonerNumber")
        if number is not None and number != prn:
            return {"thirdParty": True, "role": value.get("role")}
        return {k: _scrub(v, prn) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, prn) for v in value]
    return value


def _case_entry(
    case: Case,
    party: Party,
    consents: list[Consent],
    acknowledgements: list[Responsibility],
    answers: list[Feedback],
    others: list[str],
    notes: list[Note],
) -> dict[str, Any]:
    return {
        "caseId": case.id,
        "reference": case.reference,
        "prisonId": case.prison_id,
        "state": case.state,
        "category": case.category,
        "summary": case.summary,
        "description": case.description,
        "riskLevel": case.risk_level,
        "riskNotes": case.risk_notes,
        "outcome": case.outcome,
        "referredAt": case.created_at,
        "incidentOccurredAt": case.incident_occurred_at,
        "concludedAt": case.concluded_at,
        "closedAt": case.closed_at,
        "party": {
            "id": party.id,
            **party_snapshot(party),
            "followUp": party.follow_up,
            "addedAt": party.created_at,
        },
        "consents": [
            {
                "scope": c.scope,
                "given": c.given,
                "method": c.method,
                "recordedBy": c.recorded_by,
                "recordedAt": c.recorded_at,
            }
            for c in consents
        ],
        # What the person said of their part in the harm: theirs to see, and nobody else's
        # outside the service.
        "responsibility": [
            {
                "acknowledged": e.acknowledged,
                "method": e.method,
                "recordedBy": e.recorded_by,
                "recordedAt": e.recorded_at,
                "note": e.note,
            }
            for e in acknowledgements
        ],
        # Their answers, comment included: reports carry only aggregates, and nothing else
        # gives an answer back.
        "feedback": [
            {
                "stage": f.stage,
                "feltHeard": f.felt_heard,
                "feltSafe": f.felt_safe,
                "wouldRecommend": f.would_recommend,
                "comment": f.comment,
                "collectedByRole": f.collected_by_role,
                "recordedAt": f.recorded_at,
            }
            for f in answers
        ],
        "otherParties": [{"role": role} for role in others],
        # The case's notes, as practitioners wrote them: they may name other people, whom the
        # officer answering the request redacts before it is sent.
        "notes": [
            {"kind": n.kind, "text": n.text, "writtenAt": n.written_at, "writtenByRole": n.written_by_role}
            for n in notes
        ],
    }


def _rep_entry(rep: Rep) -> dict[str, Any]:
    return {"id": rep.id, **rep_snapshot(rep), "createdAt": rep.created_at}


def _concern_entry(concern: SafeguardingConcern) -> dict[str, Any]:
    return {
        "id": concern.id,
        "prisonId": concern.prison_id,
        "caseId": concern.case_id,
        "category": concern.category,
        "detail": concern.detail,
        "status": concern.status,
        "raisedAt": concern.raised_at,
        "acknowledgedBy": concern.acknowledged_by,
        "acknowledgedAt": concern.acknowledged_at,
        "externalReference": concern.external_reference,
    }


def _task_entry(task: Task, *, as_rep: bool) -> dict[str, Any]:
    entry = {
        "id": task.id,
        "caseId": task.case_id,
        "kind": task.kind,
        "dueAt": task.due_at,
        "status": task.status,
        "outcome": task.outcome,
        "completedAt": task.completed_at,
        "durationMinutes": task.duration_minutes,
    }
    # A rep's own task is about someone else: what they did, not whom they saw.
    if not as_rep:
        entry |= {"instructions": task.instructions, "notes": task.notes}
    return entry
