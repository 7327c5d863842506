"""Safeguarding concerns: recorded, audited and announced in one step, so nobody is left untold."""

from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.audit.service import record_case_change, record_global_change
from app.cases.models import Case
from app.common.enums import ConcernCategory, ConcernStatus
from app.config import get_settings
from app.context import RequestContext
from app.events.service import SAFEGUARDING_RAISED, emit
from app.safeguarding.models import SafeguardingConcern


async def raise_concern(
    session: AsyncSession,
    ctx: RequestContext,
    *,
    prisoner_number: str,
    prison_id: str,
    case: Case | None,
    category: ConcernCategory,
    detail: str,
) -> SafeguardingConcern:
    """Open a concern, write its audit record and the `safeguarding.raised` event together.

    With a case, the caller holds the case row lock (the record goes on the case's chain).
    Tasks that follow from the concern are the caller's to schedule.
    """
    now = clock.now()
    concern = SafeguardingConcern(
        prisoner_number=prisoner_number,
        prison_id=prison_id,
        case_id=case.id if case else None,
        category=category.value,
        detail=detail,
        status=ConcernStatus.OPEN.value,
        raised_by_client_id=ctx.principal.client_id,
        raised_at=now,
    )
    session.add(concern)
    await session.flush()
    after = {
        "prisonerNumber": prisoner_number,
        "prisonId": prison_id,
        "category": concern.category,
        "detail": detail,
        "status": concern.status,
    }
    if case is not None:
        record_case_change(
            session,
            ctx,
            case,
            action="safeguarding.raised",
            entity_type="safeguarding_concern",
            entity_id=concern.id,
            after=after,
        )
    else:
        await record_global_change(
            session,
            ctx,
            action="safeguarding.raised",
            entity_type="safeguarding_concern",
            entity_id=concern.id,
            after=after,
        )
    base = get_settings().base_url.rstrip("/")
    # The event tells staff at once who and what kind of concern; the detail stays behind the link.
    emit(
        session,
        event_type=SAFEGUARDING_RAISED,
        description=(
            f"A safeguarding concern ({category.value.replace('_', ' ')}) was raised about "
            f"{prisoner_number} in {prison_id}"
        ),
        prisoner_numbers=[prisoner_number],
        detail_url=f"{base}/safeguarding-concerns/{concern.id}",
        additional={
            "concernId": concern.id,
            "category": concern.category,
            "prisonId": prison_id,
            "caseId": case.id if case else None,
            "reference": case.reference if case else None,
            "raisedAt": now,
        },
        case=case,
        prison_id=prison_id,
    )
    return concern
