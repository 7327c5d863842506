"""Turning a referral into a case, exactly once per source record."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.service import next_case_record
from app.cases import moves
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.service import party_snapshot
from app.common.enums import CaseState
from app.context import RequestContext
from app.db import DriverConnection, new_id, new_row
from app.errors import ValidationFailedError
from app.events.service import CASE_CREATED, case_event_values
from app.models.cases import Case, Party
from app.referrals.schemas import ReferralCreate


@dataclass(slots=True)
class Referred:
    """The case a referral names, whether it was made now, and (made now) all its response shows."""

    case: Case
    created: bool
    bundle: CaseBundle | None = None


async def refer(
    session: AsyncSession | DriverConnection, ctx: RequestContext, body: ReferralCreate
) -> Referred:
    """The case for this referral, made now or found (the same source record referred before).
    On a session, or on a PostgreSQL driver connection in its transaction (`app.db.Conn`)."""
    numbers = [p.prisoner_number for p in body.parties]
    if len(set(numbers)) != len(numbers):
        raise ValidationFailedError("the same prisoner is named twice among the parties")
    existing = await repo.find_by_source(session, body.source.system, body.source.reference)
    if existing is not None:
        return Referred(existing, created=False)
    now = clock.now()
    reference = await repo.next_reference(session, body.prison_id)
    case_id = new_id()
    values: dict[str, Any] = {
        "id": case_id,
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
    }
    parties = [
        new_row(
            Party,
            {
                "id": new_id(),
                "case_id": case_id,
                "prisoner_number": p.prisoner_number,
                "first_name": p.first_name,
                "last_name": p.last_name,
                "role": p.role.value,
                "location": p.location,
                "created_at": now,
                "participating": True,
                "outcome_updates": True,
            },
        )
        for p in body.parties
    ]
    # The first audit record is known before the case is written, so the case row is inserted
    # with its chain head already in place (no second write of the row).
    draft = repo.unsaved_case(values)
    record = next_case_record(
        ctx,
        draft,
        action="case.referred",
        after={
            "reference": draft.reference,
            "prisonId": draft.prison_id,
            "state": draft.state,
            "category": draft.category,
            "source": {"system": draft.source_system, "reference": draft.source_reference},
            "referredBy": draft.referred_by,
            "parties": [party_snapshot(p) for p in parties],
        },
    )
    values["audit_seq"], values["audit_head"] = draft.audit_seq, draft.audit_head
    case = await repo.insert_case_if_new(session, values)
    if case is None:
        # A concurrent duplicate won the race: its committed case is the answer.
        winner = await repo.find_by_source(session, body.source.system, body.source.reference)
        if winner is None:  # pragma: no cover - the unique constraint guarantees a winner
            raise RuntimeError("referral conflict without a winner")
        return Referred(winner, created=False)
    event = case_event_values(
        case,
        event_type=CASE_CREATED,
        description=f"A restorative justice case {case.reference} was created from a referral",
        prisoner_numbers=numbers,
        extra={"source": {"system": case.source_system, "reference": case.source_reference}},
    )
    await moves.save_intake(session, case, parties, record, event)
    return Referred(case, created=True, bundle=CaseBundle(case=case, parties=parties))
