"""Writing outbound prison domain events to the outbox, in the caller's transaction."""

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.common.jsonable import plain
from app.config import get_settings
from app.db import new_id, new_row
from app.models.cases import Case
from app.models.events import OutboxEvent

EVENT_VERSION = 1

CASE_CREATED = "restorative-justice.case.created"
CASE_STATE_CHANGED = "restorative-justice.case.state-changed"
CASE_CLOSED = "restorative-justice.case.closed"
# A party left a case that goes on without them (a move would be `.state-changed`).
CASE_PARTY_WITHDRAWN = "restorative-justice.case.party-withdrawn"
SAFEGUARDING_RAISED = "restorative-justice.safeguarding.raised"
# A concern nobody acknowledged in time: about the concern, not a task, so a type of its own.
SAFEGUARDING_OVERDUE = "restorative-justice.safeguarding.overdue"
TASK_OVERDUE = "restorative-justice.task.overdue"
# A commitment of an agreement whose due date passed while it was still pending: about the
# commitment (which may outlive the case's closing), not the practitioner's task to check it.
AGREEMENT_ITEM_OVERDUE = "restorative-justice.agreement-item.overdue"
# The digest of every audit chain's head, published so that a rewritten chain can be found from
# outside the database (`app.audit.checkpoint`).
AUDIT_CHECKPOINT = "restorative-justice.audit.checkpoint"

OUTBOUND_TYPES = (
    CASE_CREATED,
    CASE_STATE_CHANGED,
    CASE_CLOSED,
    CASE_PARTY_WITHDRAWN,
    SAFEGUARDING_RAISED,
    SAFEGUARDING_OVERDUE,
    TASK_OVERDUE,
    AGREEMENT_ITEM_OVERDUE,
    AUDIT_CHECKPOINT,
)


def case_url(case: Case) -> str:
    """Where a listener can fetch the case."""
    return f"{get_settings().base_url.rstrip('/')}/cases/{case.id}"


def event_values(
    *,
    event_type: str,
    description: str,
    prisoner_numbers: Iterable[str],
    detail_url: str | None,
    additional: dict[str, Any],
    case: Case | None = None,
    prison_id: str | None = None,
) -> dict[str, Any]:
    """The columns of a new outbox row: the prison domain event envelope and where it belongs."""
    occurred = clock.now()
    event_id = new_id()
    envelope: dict[str, Any] = {
        "eventId": str(event_id),
        "eventType": event_type,
        "version": EVENT_VERSION,
        "occurredAt": occurred.isoformat(timespec="milliseconds"),
        "description": description,
        "additionalInformation": plain(additional),
        "personReference": {
            "identifiers": [{"type": "NOMS", "value": n} for n in dict.fromkeys(prisoner_numbers)]
        },
    }
    if detail_url:
        envelope["detailUrl"] = detail_url
    return {
        "event_id": event_id,
        "event_type": event_type,
        "case_id": case.id if case else None,
        "prison_id": case.prison_id if case else prison_id,
        "payload": envelope,
        "created_at": occurred,
    }


def emit(
    session: AsyncSession,
    *,
    event_type: str,
    description: str,
    prisoner_numbers: Iterable[str],
    detail_url: str | None,
    additional: dict[str, Any],
    case: Case | None = None,
    prison_id: str | None = None,
) -> OutboxEvent:
    """Append one event to the outbox; it is published only if the transaction commits."""
    return _append(
        session,
        event_values(
            event_type=event_type,
            description=description,
            prisoner_numbers=prisoner_numbers,
            detail_url=detail_url,
            additional=additional,
            case=case,
            prison_id=prison_id,
        ),
    )


def _append(session: AsyncSession, values: dict[str, Any]) -> OutboxEvent:
    event = new_row(OutboxEvent, values)
    session.add(event)
    return event


def case_event_values(
    case: Case,
    *,
    event_type: str,
    description: str,
    prisoner_numbers: Iterable[str],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox row of an event about a case, carrying its reference, prison and state."""
    return event_values(
        event_type=event_type,
        description=description,
        prisoner_numbers=prisoner_numbers,
        detail_url=case_url(case),
        additional={
            "caseId": case.id,
            "reference": case.reference,
            "prisonId": case.prison_id,
            "state": case.state,
            **(extra or {}),
        },
        case=case,
    )


def emit_case_event(
    session: AsyncSession,
    case: Case,
    *,
    event_type: str,
    description: str,
    prisoner_numbers: Iterable[str],
    extra: dict[str, Any] | None = None,
) -> OutboxEvent:
    """An event about a case, carrying its reference, prison and state."""
    return _append(
        session,
        case_event_values(
            case,
            event_type=event_type,
            description=description,
            prisoner_numbers=prisoner_numbers,
            extra=extra,
        ),
    )
