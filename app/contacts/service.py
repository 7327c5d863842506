"""Recording contacts with parties; shuttle rounds are numbered per case."""

import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.auth.access import may_act_for_rep, sees_contact_summary
from app.cases.repository import CaseBundle
from app.common.enums import CaseState, ContactKind
from app.contacts.schemas import ContactPublic, Voided
from app.context import Principal, RequestContext
from app.errors import ForbiddenError, InvalidStateError, NotFoundError, ValidationFailedError
from app.models.cases import Party
from app.models.contacts import Contact

# Clocks on wing terminals drift; a contact "in the future" by more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


async def record_contact(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    *,
    kind: ContactKind,
    party_id: uuid.UUID,
    rep_id: uuid.UUID | None,
    occurred_at: datetime,
    duration_minutes: int,
    summary: str,
    task_id: uuid.UUID | None = None,
) -> Contact:
    """Record one contact with a party of the case (the caller holds the case row lock)."""
    case = bundle.case
    principal = ctx.principal
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case takes no more contacts; reopen it first")
    if rep_id is None:
        rep_id = principal.rep_id
    elif not may_act_for_rep(principal, rep_id):
        raise ForbiddenError("a rep records only their own contacts")
    if rep_id is not None and rep_id not in bundle.rep_ids:
        raise ValidationFailedError(f"rep {rep_id} is not assigned to {case.reference}")
    if party_id not in {p.id for p in bundle.parties}:
        raise ValidationFailedError(f"{party_id} is not a party to {case.reference}")
    now = clock.now()
    if occurred_at > now + CLOCK_SKEW:
        raise ValidationFailedError("occurredAt is in the future")
    shuttle_round = None
    if kind == ContactKind.SHUTTLE:
        # Numbered under the case row lock the caller holds; the unique constraint backs it up.
        last = (
            await session.execute(
                select(func.max(Contact.shuttle_round)).where(col(Contact.case_id) == case.id)
            )
        ).scalar_one()
        shuttle_round = (last or 0) + 1
    contact = Contact(
        case_id=case.id,
        party_id=party_id,
        rep_id=rep_id,
        recorded_by_client_id=principal.client_id,
        task_id=task_id,
        kind=kind.value,
        occurred_at=occurred_at,
        duration_minutes=duration_minutes,
        summary=summary,
        shuttle_round=shuttle_round,
        created_at=now,
    )
    session.add(contact)
    record_case_change(
        session,
        ctx,
        case,
        action="contact.recorded",
        entity_type="contact",
        entity_id=contact.id,
        after={
            "kind": contact.kind,
            "partyId": party_id,
            "repId": rep_id,
            "occurredAt": occurred_at,
            "durationMinutes": duration_minutes,
            "shuttleRound": shuttle_round,
            "summary": summary,
            "taskId": task_id,
        },
    )
    return contact


async def void_contact(
    session: AsyncSession, ctx: RequestContext, bundle: CaseBundle, contact_id: uuid.UUID, reason: str
) -> Contact:
    """Mark a contact as recorded in error (the caller holds the case row lock). It stays on the
    case, shown as voided, and no longer counts as a rep's work; it is never deleted."""
    contact = await session.get(Contact, contact_id, with_for_update=True)
    if contact is None or contact.case_id != bundle.case.id:
        raise NotFoundError(f"no contact {contact_id} on case {bundle.case.reference}")
    if contact.voided_at is not None:
        raise InvalidStateError(f"contact {contact_id} was voided already, at {contact.voided_at}")
    contact.voided_at = clock.now()
    contact.void_reason = reason
    contact.voided_by = ctx.principal.name
    record_case_change(
        session,
        ctx,
        bundle.case,
        action="contact.voided",
        entity_type="contact",
        entity_id=contact.id,
        after={"reason": reason, "kind": contact.kind, "occurredAt": contact.occurred_at},
    )
    return contact


def _voided(contact: Contact) -> Voided | None:
    if contact.voided_at is None:
        return None
    return Voided(at=contact.voided_at, reason=contact.void_reason or "", by=contact.voided_by or "")


async def list_contacts(session: AsyncSession, case_id: uuid.UUID) -> list[Contact]:
    """A case's contacts in the order they happened."""
    rows = await session.execute(
        select(Contact)
        .where(col(Contact.case_id) == case_id)
        .order_by(col(Contact.occurred_at), col(Contact.created_at), col(Contact.id))
    )
    return list(rows.scalars())


def present_contacts(
    principal: Principal, contacts: list[Contact], parties: list[Party]
) -> list[ContactPublic]:
    """Contacts as the caller may see them: a rep reads only their own notes."""
    names = {p.id: f"{p.first_name} {p.last_name}" for p in parties}
    return [
        ContactPublic(
            id=c.id,
            case_id=c.case_id,
            kind=ContactKind(c.kind),
            party_id=c.party_id,
            party_name=names.get(c.party_id, ""),
            rep_id=c.rep_id,
            occurred_at=c.occurred_at,
            duration_minutes=c.duration_minutes,
            summary=c.summary if sees_contact_summary(principal, c.rep_id) else None,
            shuttle_round=c.shuttle_round,
            task_id=c.task_id,
            recorded_at=c.created_at,
            voided=_voided(c),
        )
        for c in contacts
    ]
