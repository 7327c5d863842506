"""Contacts: every visit to a party, recorded by the rep or practitioner who made it."""

import uuid

from fastapi import APIRouter

from app.api.deps import (
    KNOWN_QUERY,
    CaseForRead,
    CaseForUpdate,
    ContextDep,
    PrincipalDep,
    SessionDep,
    permission,
)
from app.api.responses import errors
from app.auth.access import Permission
from app.common.enums import ContactKind
from app.contacts import service
from app.contacts.schemas import ContactCreate, ContactPublic, ContactVoid
from app.flows.transitions import refuse_unmet_gates
from app.workflows.case_workflow import Action

router = APIRouter(prefix="/cases", tags=["contacts"])


@router.post(
    "/{case_id}/contacts",
    status_code=201,
    response_model=ContactPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONTACT_RECORD)],
)
async def record_contact(
    body: ContactCreate, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> ContactPublic:
    """Record a meeting with a party; a rep records their own (repId defaults to them). A shuttle
    contact needs the party's consent to indirect contact, judged now."""
    if body.kind == ContactKind.SHUTTLE:
        refuse_unmet_gates(Action.SHUTTLE_CONTACT, ctx, bundle, body.party_id)
    contact = await service.record_contact(
        session,
        ctx,
        bundle,
        kind=body.kind,
        party_id=body.party_id,
        rep_id=body.rep_id,
        occurred_at=body.occurred_at,
        duration_minutes=body.duration_minutes,
        summary=body.summary,
    )
    return service.present_contacts(ctx.principal, [contact], bundle.parties)[0]


@router.get(
    "/{case_id}/contacts",
    response_model=list[ContactPublic],
    responses=errors(404),
    dependencies=[permission(Permission.CONTACT_READ), KNOWN_QUERY],
)
async def list_contacts(
    bundle: CaseForRead, session: SessionDep, principal: PrincipalDep
) -> list[ContactPublic]:
    """The case's contacts in the order they happened; shuttle rounds carry their number."""
    contacts = await service.list_contacts(session, bundle.case.id)
    return service.present_contacts(principal, contacts, bundle.parties)


@router.post(
    "/{case_id}/contacts/{contact_id}/void",
    response_model=ContactPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONTACT_VOID)],
)
async def void_contact(
    contact_id: uuid.UUID, body: ContactVoid, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> ContactPublic:
    """Mark a contact recorded in error, with the reason: it stays on the case, shown as voided,
    and no longer counts as a rep's work."""
    contact = await service.void_contact(session, ctx, bundle, contact_id, body.reason)
    return service.present_contacts(ctx.principal, [contact], bundle.parties)[0]
