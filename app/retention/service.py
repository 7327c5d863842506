"""Retention: anonymising closed cases kept past the retention period, and legal holds.

Concerns raised without a case follow the same rule, counted from their acknowledgement (an
open one is never purged).

A purge removes names, narrative text and notes; it keeps counts, dates, states and outcomes,
so that reports still add up. Prisoner numbers become a stable keyed pseudonym (the same
prisoner gets the same pseudonym in every purged case, so the reoffending measure still links
them; without the key nobody can recover the number). Audit records of a purged case lose
their content and actor's name and are marked redacted; their hashes and places in the chain
stay. The purge's own record names each record it redacts with its content hash, and the closing
record the retention period counts from (`app.audit.redaction`), so `audit verify` still passes,
counts them as redacted, and fails any redaction made another way.
"""

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from app import clock
from app.audit import redaction
from app.audit.redaction import retention_cutoff
from app.audit.service import record_case_change, record_global_change
from app.cases import repository as cases_repo
from app.common.enums import CaseState
from app.config import get_settings
from app.context import SYSTEM_CONTEXT, RequestContext
from app.db import Database
from app.errors import InvalidStateError, ValidationFailedError
from app.events.service import SAFEGUARDING_OVERDUE, SAFEGUARDING_RAISED
from app.models.cases import Case, Consent, Party, Responsibility
from app.models.conferences import AgreementItem, Conference
from app.models.contacts import Contact
from app.models.events import OutboxEvent
from app.models.feedback import Feedback
from app.models.letters import Letter
from app.models.notes import Note
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task

REDACTED = "REDACTED"
PSEUDONYM_PREFIX = "x"

# What a purge does to each table holding case data: column -> the value it becomes
# (None empties a nullable column; REDACTED stands in where a value is required).
CASE_REDACTIONS: dict[str, Any] = {
    "summary": None,
    "description": None,
    "risk_notes": None,
    "pause_reason": None,
    "referred_by": REDACTED,
    "incident_location_key": None,
    "legal_hold_reason": None,
}
REDACTIONS: tuple[tuple[type[SQLModel], dict[str, Any]], ...] = (
    (Party, {"first_name": REDACTED, "last_name": REDACTED, "location": None}),
    (Consent, {"recorded_by": REDACTED}),
    (Responsibility, {"recorded_by": REDACTED, "note": None}),
    (Task, {"instructions": REDACTED, "notes": None, "outcome": None}),
    (Letter, {"body": REDACTED, "practitioner_comments": None}),
    (
        Conference,
        {"location": REDACTED, "keep_apart_override_reason": None, "attendees": [], "expected_attendees": []},
    ),
    (Contact, {"summary": REDACTED, "void_reason": None, "voided_by": None}),
    (Note, {"text": REDACTED, "written_by": REDACTED}),
    (AgreementItem, {"description": REDACTED, "status_note": None}),
    (Feedback, {"comment": None}),
    (SafeguardingConcern, {"detail": REDACTED, "acknowledged_by": None, "external_reference": None}),
)
CONCERN_EVENTS = (SAFEGUARDING_RAISED, SAFEGUARDING_OVERDUE)
# Tables whose prisoner numbers become pseudonyms.
PSEUDONYMISED: tuple[type[Party] | type[SafeguardingConcern], ...] = (Party, SafeguardingConcern)
# Text columns of case data a purge keeps on purpose: codes, states, outcomes, references
# and hashes, which name nobody and keep the reports whole.
KEPT: dict[str, frozenset[str]] = {
    "rj_case": frozenset(
        {
            "reference",
            "prison_id",
            "state",
            "previous_state",
            "category",
            "risk_level",
            "facilitator",
            "source_system",
            "source_reference",
            "outcome",
            "decline_reason",
            "audit_head",
        }
    ),
    "party": frozenset({"role", "follow_up"}),
    "consent": frozenset({"scope", "method", "recorded_by_role"}),
    "responsibility": frozenset({"method", "recorded_by_role"}),
    "feedback": frozenset({"stage", "party_role", "collected_by_role"}),
    "task": frozenset({"prison_id", "kind", "status", "assignee_type"}),
    "letter": frozenset({"status"}),
    "case_note": frozenset({"kind", "written_by_role"}),
    "conference": frozenset({"supporting_rep_ids", "attended_party_ids"}),
    # Who agreed, by party id and how: nobody's name.
    "agreement": frozenset({"made_in", "agreed_by"}),
    "safeguarding_concern": frozenset({"prison_id", "category", "status"}),
    "outbox_event": frozenset({"event_type", "prison_id"}),
    "audit_record": frozenset(
        {"chain", "request_id", "action", "entity_type", "entity_id", "content_hash", "prev_hash", "hash"}
    ),
}
# Columns changed value by value rather than set: event payloads have their prisoner numbers
# pseudonymised; audit records lose their content and the actor's name.
HANDLED: dict[str, frozenset[str]] = {
    "outbox_event": frozenset({"payload"}),
    "audit_record": frozenset({"actor", "before", "after"}),
}


def pseudonym(key: str, prisoner_number: str) -> str:
    """A stable stand-in for a prisoner number, keyed so that it cannot be reversed without the key.

    Lower case, so it can never be mistaken for a real number (`A1234BC`); seven characters,
    so it fits where the number was.
    """
    if prisoner_number.startswith(PSEUDONYM_PREFIX):
        return prisoner_number
    digest = hmac.new(key.encode(), prisoner_number.encode(), hashlib.sha256).digest()
    return PSEUDONYM_PREFIX + base64.b32encode(digest).decode().lower()[:6]


def _due_conditions(cutoff: datetime) -> list[ColumnElement[bool]]:
    return [
        col(Case.state) == CaseState.CLOSED.value,
        col(Case.closed_at) <= cutoff,
        col(Case.purged_at).is_(None),
    ]


@dataclass(slots=True)
class PurgeSummary:
    """What a purge did (or, dry, would do)."""

    dry_run: bool
    cutoff: datetime
    cases: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    concerns: int = 0
    # Past retention by their own rows, but not by their audit trail (no closing record in it, or
    # one within retention): left as they are, each with the reason.
    unproven: list[str] = field(default_factory=list)
    audit_records_redacted: int = 0
    rows_changed: int = 0


async def due_for_purge(db: Database, cutoff: datetime) -> tuple[list[tuple[uuid.UUID, str]], list[str]]:
    """Cases past retention (id, reference), and references of those kept under legal hold."""
    async with db.transaction() as session:
        rows = await session.execute(
            select(Case.id, Case.reference, Case.legal_hold)  # type: ignore[call-overload]
            .where(*_due_conditions(cutoff))
            .order_by(col(Case.closed_at), col(Case.id))
        )
        due: list[tuple[uuid.UUID, str]] = []
        held: list[tuple[uuid.UUID, str]] = []
        for case_id, reference, hold in rows:
            (held if hold else due).append((case_id, reference))
    return due, [ref for _id, ref in held]


async def _due_concerns(db: Database, cutoff: datetime) -> list[uuid.UUID]:
    """Concerns raised without a case, acknowledged before the cutoff and not yet anonymised."""
    async with db.transaction() as session:
        return list(
            (
                await session.execute(
                    select(col(SafeguardingConcern.id))
                    .where(
                        col(SafeguardingConcern.case_id).is_(None),
                        col(SafeguardingConcern.acknowledged_at) <= cutoff,
                        col(SafeguardingConcern.prisoner_number).not_like(f"{PSEUDONYM_PREFIX}%"),
                    )
                    .order_by(col(SafeguardingConcern.acknowledged_at), col(SafeguardingConcern.id))
                )
            ).scalars()
        )


async def purge(
    db: Database, *, dry_run: bool, progress: Callable[[int, int], None] | None = None
) -> PurgeSummary:
    """Anonymise every closed case past retention and not on legal hold, and every concern raised
    without a case and acknowledged before the cutoff; one transaction per case or concern."""
    settings = get_settings()
    cutoff = retention_cutoff(clock.now(), settings.retention_years)
    due, held = await due_for_purge(db, cutoff)
    concerns = await _due_concerns(db, cutoff)
    summary = PurgeSummary(dry_run=dry_run, cutoff=cutoff, held=held)
    if dry_run:
        summary.cases = [ref for _id, ref in due]
        summary.concerns = len(concerns)
        return summary
    key = settings.pseudonym_key
    if not key:
        raise ValidationFailedError(
            "set RJ_PSEUDONYM_KEY (a secret) before purging: prisoner numbers are pseudonymised with it"
        )
    total = len(due) + len(concerns)
    for done, (case_id, reference) in enumerate(due, start=1):
        async with db.transaction() as session:
            case = await cases_repo.get_case(session, str(case_id), lock=True)
            # Reopened, put on hold or purged by someone else since we looked: leave it.
            if (
                case is None
                or case.legal_hold
                or case.purged_at is not None
                or case.state != CaseState.CLOSED
            ):
                continue
            if case.closed_at is None or case.closed_at > cutoff:
                continue
            plan = await redaction.plan(session, "case", case.id, cutoff)
            if isinstance(plan, str):
                summary.unproven.append(f"case {reference}: {plan}")
                continue
            rows = await purge_case(session, case, key)
            records = await _record_purge(
                session, "case", case.id, {"reference": reference, "closedAt": case.closed_at}, plan
            )
            summary.cases.append(reference)
            summary.rows_changed += rows
            summary.audit_records_redacted += records
        if progress is not None:
            progress(done, total)
    for done, concern_id in enumerate(concerns, start=len(due) + 1):
        async with db.transaction() as session:
            concern = await session.get(SafeguardingConcern, concern_id, with_for_update=True)
            if concern is None or concern.prisoner_number.startswith(PSEUDONYM_PREFIX):
                continue
            plan = await redaction.plan(session, "concern", concern.id, cutoff)
            if isinstance(plan, str):
                summary.unproven.append(f"concern {concern.id}: {plan}")
                continue
            rows = await purge_concern(session, concern, key)
            records = await _record_purge(
                session, "concern", concern.id, {"acknowledgedAt": concern.acknowledged_at}, plan
            )
            summary.concerns += 1
            summary.rows_changed += rows
            summary.audit_records_redacted += records
        if progress is not None:
            progress(done, total)
    return summary


async def _record_purge(
    session: AsyncSession,
    entity_type: str,
    entity_id: uuid.UUID,
    what: dict[str, Any],
    plan: redaction.Plan,
) -> int:
    """The purge's own audit record, on the global chain, naming each record it redacts by its
    place and content hash (it names nobody); then the redaction itself. How many were redacted."""
    record = await record_global_change(
        session,
        SYSTEM_CONTEXT,
        action=redaction.PURGED,
        entity_type=entity_type,
        entity_id=entity_id,
        after={
            **what,
            "retentionYears": get_settings().retention_years,
            "auditRecordsRedacted": len(plan.redacted),
            "closure": plan.closure,
            "redacted": plan.redacted,
        },
    )
    await session.flush()
    return await redaction.redact(session, record)


async def purge_concern(session: AsyncSession, concern: SafeguardingConcern, key: str) -> int:
    """Anonymise a concern raised without a case, its two tasks and its events; rows changed
    (its audit records are redacted by `_record_purge`)."""
    number = concern.prisoner_number
    for name, value in dict(REDACTIONS)[SafeguardingConcern].items():
        setattr(concern, name, value)
    concern.prisoner_number = pseudonym(key, number)
    session.add(concern)
    task_ids = [t for t in (concern.task_id, concern.check_task_id) if t is not None]
    changed = 1
    if task_ids:
        result = await session.execute(
            update(Task).where(col(Task.id).in_(task_ids)).values(**dict(REDACTIONS)[Task])
        )
        changed += int(getattr(result, "rowcount", 0) or 0)
    events = await session.execute(
        select(OutboxEvent).where(
            col(OutboxEvent.case_id).is_(None),
            col(OutboxEvent.prison_id) == concern.prison_id,
            col(OutboxEvent.event_type).in_(CONCERN_EVENTS),
        )
    )
    mine = [
        e
        for e in events.scalars()
        if (e.payload.get("additionalInformation") or {}).get("concernId") == str(concern.id)
    ]
    changed += _pseudonymise_payloads(session, mine, key)
    return changed


async def purge_case(session: AsyncSession, case: Case, key: str) -> int:
    """Anonymise one case and everything held with it; rows changed (its audit records are
    redacted by `_record_purge`)."""
    now = clock.now()
    changed = 0
    for name, value in CASE_REDACTIONS.items():
        setattr(case, name, value)
    case.purged_at = now
    await cases_repo.bump_version(session, case, now)
    changed += 1
    for model, values in REDACTIONS:
        result = await session.execute(update(model).where(_case_column(model) == case.id).values(**values))
        changed += int(getattr(result, "rowcount", 0) or 0)
    for pseudo_model in PSEUDONYMISED:
        rows = await session.execute(
            select(pseudo_model.id, pseudo_model.prisoner_number).where(  # type: ignore[call-overload]
                _case_column(pseudo_model) == case.id
            )
        )
        for row_id, number in list(rows):
            await session.execute(
                update(pseudo_model)
                .where(col(pseudo_model.id) == row_id)
                .values(prisoner_number=pseudonym(key, number))
            )
    changed += await _pseudonymise_events(session, case.id, key)
    return changed


def _case_column(model: type[SQLModel]) -> Column[Any]:
    column: Column[Any] = model.__table__.c.case_id  # type: ignore[attr-defined]
    return column


async def _pseudonymise_events(session: AsyncSession, case_id: uuid.UUID, key: str) -> int:
    events = (await session.execute(select(OutboxEvent).where(col(OutboxEvent.case_id) == case_id))).scalars()
    return _pseudonymise_payloads(session, list(events), key)


def _pseudonymise_payloads(session: AsyncSession, events: list[OutboxEvent], key: str) -> int:
    changed = 0
    for event in events:
        payload = dict(event.payload)
        people = payload.get("personReference") or {}
        identifiers = [
            {**i, "value": pseudonym(key, i["value"])} if i.get("type") == "NOMS" else i
            for i in people.get("identifiers", [])
        ]
        payload["personReference"] = {**people, "identifiers": identifiers}
        if payload != event.payload:
            event.payload = payload
            session.add(event)
            changed += 1
    return changed


async def set_legal_hold(
    session: AsyncSession, ctx: RequestContext, case: Case, *, hold: bool, reason: str | None
) -> Case:
    """Keep a case past retention (or release it); the caller holds the case's lock."""
    if case.purged_at is not None:
        raise InvalidStateError(f"case {case.reference} was already anonymised under the retention policy")
    if hold and not reason:
        raise ValidationFailedError("give the reason for the legal hold")
    before = {"legalHold": case.legal_hold, "reason": case.legal_hold_reason}
    case.legal_hold = hold
    case.legal_hold_reason = reason
    case.updated_at = clock.now()
    session.add(case)
    record_case_change(
        session,
        ctx,
        case,
        action="case.legal-hold",
        before=before,
        after={"legalHold": hold, "reason": reason},
    )
    return case
