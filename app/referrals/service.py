"""Turning a referral into a case, exactly once per source record."""

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.service import record_case_change
from app.cases import repository as repo
from app.cases.models import Case, Party
from app.cases.service import party_snapshot
from app.common.enums import CaseState
from app.context import RequestContext
from app.db import new_id
from app.errors import ValidationFailedError
from app.events.service import CASE_CREATED, emit_case_event
from app.referrals.schemas import ReferralCreate


async def refer(session: AsyncSession, ctx: RequestContext, body: ReferralCreate) -> tuple[Case, bool]:
    """The case for this referral and whether it was created now (False: it already existed)."""
    numbers = [p.prisoner_number for p in body.parties]
    if len(set(numbers)) != len(numbers):
        raise ValidationFailedError("the same prisoner is named twice among the parties")
    existing = await repo.find_by_source(session, body.source.system, body.source.reference)
    if existing is not None:
        return existing, False
    now = clock.now()
    reference = await repo.next_reference(session, body.prison_id)
    case_id = await repo.insert_case_if_new(
        session,
        {
            "id": new_id(),
            "reference": reference,
            "prison_id": body.prison_id,
            "state": CaseState.REFERRED.value,
            "version": 1,
            "category": body.incident.category.value,
            "summary": None,
            "description": body.incident.description,
            "incident_occurred_at": body.incident.occurred_at,
            "incident_location_key": body.incident.location_key,
            "source_system": body.source.system,
            "source_reference": body.source.reference,
            "referred_by": body.referred_by,
            "created_by_client_id": ctx.principal.client_id,
            "audit_seq": 0,
            "audit_head": "",
            "created_at": now,
            "updated_at": now,
        },
    )
    if case_id is None:
        # A concurrent duplicate won the race: its committed case is the answer.
        winner = await repo.find_by_source(session, body.source.system, body.source.reference)
        if winner is None:  # pragma: no cover - the unique constraint guarantees a winner
            raise RuntimeError("referral conflict without a winner")
        return winner, False
    case = await repo.get_case(session, str(case_id), lock=True)
    assert case is not None  # noqa: S101 - inserted just above in this transaction
    parties = [
        Party(
            case_id=case.id,
            prisoner_number=p.prisoner_number,
            first_name=p.first_name,
            last_name=p.last_name,
            role=p.role.value,
            location=p.location,
            created_at=now,
        )
        for p in body.parties
    ]
    session.add_all(parties)
    record_case_change(
        session,
        ctx,
        case,
        action="case.referred",
        after={
            "reference": case.reference,
            "prisonId": case.prison_id,
            "state": case.state,
            "category": case.category,
            "source": {"system": case.source_system, "reference": case.source_reference},
            "referredBy": case.referred_by,
            "parties": [party_snapshot(p) for p in parties],
        },
    )
    session.add(case)
    emit_case_event(
        session,
        case,
        event_type=CASE_CREATED,
        description=f"A restorative justice case {case.reference} was created from a referral",
        prisoner_numbers=numbers,
        extra={"source": {"system": case.source_system, "reference": case.source_reference}},
    )
    return case, True
