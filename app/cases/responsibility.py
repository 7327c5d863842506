"""The responsibility ledger: whether each person who caused harm acknowledges their part in it.

Practice codes say the restorative process should not go on without it, and that taking part is
never evidence of guilt. So the ledger stays inside the service: no outbound event, report or
rep's view carries it; staff see it on the case, the subject sees it through subject access.
"""

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_case_change
from app.auth.access import may_record_grant
from app.cases.parties import RESPONSIBLE_ROLES, party_of
from app.cases.repository import CaseBundle
from app.cases.schemas import ResponsibilityCreate
from app.cases.service import touch
from app.common.enums import CaseState
from app.context import RequestContext
from app.errors import ForbiddenError, InvalidStateError, NotFoundError, ValidationFailedError
from app.models.cases import Case, Party, Responsibility


def note_facts(note: str | None) -> dict[str, Any]:
    """What the audit trail keeps of a note: its length and hash, which prove what was written
    without a copy of it where auditors read (the ledger is kept from them as from everyone)."""
    if note is None:
        return {}
    return {"noteLength": len(note), "noteSha256": hashlib.sha256(note.encode()).hexdigest()}


async def record_responsibility(
    session: AsyncSession,
    ctx: RequestContext,
    bundle: CaseBundle,
    party_id: uuid.UUID,
    body: ResponsibilityCreate,
) -> Responsibility:
    """Append to a party's responsibility ledger. Only a party whose role is harmer or both
    takes entries (422); only a practitioner records an acknowledgement (403 for a rep, who may
    record a retraction they hear)."""
    case = bundle.case
    party = party_of(bundle, party_id)
    principal = ctx.principal
    if body.acknowledged and not may_record_grant(principal):
        raise ForbiddenError(
            f"a {principal.role.value} may record only that a party does not acknowledge their part "
            "(acknowledged: false); a practitioner records an acknowledgement"
        )
    if party.role not in RESPONSIBLE_ROLES:
        raise ValidationFailedError(
            f"partyId: {party.first_name} {party.last_name} is a {party.role} party; only a party "
            "whose role is harmer or both is asked to acknowledge their part in the harm"
        )
    if case.state == CaseState.CLOSED:
        raise InvalidStateError("a closed case cannot be changed; reopen it first")
    entry = Responsibility(
        case_id=case.id,
        party_id=party.id,
        acknowledged=body.acknowledged,
        method=body.method.value,
        recorded_by=body.recorded_by,
        recorded_by_client_id=principal.client_id,
        recorded_by_role=principal.role.value,
        note=body.note,
        recorded_at=clock.now(),
    )
    await touch(session, case)
    record = record_case_change(
        session,
        ctx,
        case,
        action="responsibility.recorded",
        entity_type="responsibility",
        entity_id=entry.id,
        after={
            "partyId": party.id,
            "party": f"{party.first_name} {party.last_name}",
            "acknowledged": entry.acknowledged,
            "method": entry.method,
            "recordedBy": entry.recorded_by,
            **note_facts(entry.note),
        },
    )
    entry.audit_seq = record.seq
    session.add(entry)
    bundle.responsibility[party.id] = entry
    return entry


async def responsibility_ledger(
    session: AsyncSession, case: Case, party_id: uuid.UUID
) -> list[Responsibility]:
    """A party's whole responsibility ledger, oldest first."""
    party = await session.get(Party, party_id)
    if party is None or party.case_id != case.id:
        raise NotFoundError(f"no party {party_id} on case {case.reference}")
    rows = await session.execute(
        select(Responsibility)
        .where(col(Responsibility.party_id) == party_id)
        .order_by(col(Responsibility.audit_seq), col(Responsibility.recorded_at))
    )
    return list(rows.scalars())
