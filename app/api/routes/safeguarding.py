"""Safeguarding concerns: raise, acknowledge, list the open ones."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission
from app.common.enums import ConcernStatus
from app.common.schemas import Page, PrisonId
from app.context import Principal
from app.models.safeguarding import SafeguardingConcern
from app.safeguarding import service
from app.safeguarding.schemas import ConcernAcknowledge, ConcernCreate, ConcernView
from app.safeguarding.views import present_concern

router = APIRouter(prefix="/safeguarding-concerns", tags=["safeguarding"])


async def present(
    session: AsyncSession, principal: Principal, concerns: list[SafeguardingConcern]
) -> list[ConcernView]:
    """Each concern in the caller's view, with its case reference."""
    refs = await service.case_references(session, concerns)
    return [present_concern(principal, c, refs.get(c.case_id) if c.case_id else None) for c in concerns]


@router.post(
    "",
    status_code=201,
    response_model=ConcernView,
    responses=errors(404, 422),
    dependencies=[permission(Permission.CONCERN_RAISE)],
)
async def raise_concern(
    body: ConcernCreate, session: SessionDep, ctx: ContextDep, response: Response
) -> ConcernView:
    """Raise a concern: staff are told at once (event, urgent task, wellbeing check)."""
    concern = await service.create_concern(session, ctx, body)
    response.headers["Location"] = f"/safeguarding-concerns/{concern.id}"
    return (await present(session, ctx.principal, [concern]))[0]


@router.get(
    "",
    response_model=Page[ConcernView],
    responses=errors(422),
    dependencies=[permission(Permission.CONCERN_READ)],
)
async def list_concerns(
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: ConcernStatus | None = None,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
    case_id: Annotated[uuid.UUID | None, Query(alias="caseId")] = None,
) -> Page[ConcernView]:
    """Concerns in the caller's prisons: open ones first, longest waiting first."""
    concerns, total = await service.list_concerns(
        session,
        principal,
        status=status,
        prison_id=prison_id,
        case_id=case_id,
        offset=paging.offset,
        limit=paging.size,
    )
    return Page[ConcernView].of(
        await present(session, principal, concerns),
        number=paging.page,
        size=paging.size,
        total=total,
    )


@router.get(
    "/{concern_id}",
    response_model=ConcernView,
    responses=errors(404),
    dependencies=[permission(Permission.CONCERN_VIEW)],
)
async def get_concern(concern_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> ConcernView:
    """One concern (a rep sees only the receipt of one on their own case)."""
    concern = await service.get_concern(session, principal, concern_id)
    return (await present(session, principal, [concern]))[0]


@router.post(
    "/{concern_id}/acknowledge",
    response_model=ConcernView,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONCERN_ACKNOWLEDGE)],
)
async def acknowledge(
    concern_id: uuid.UUID, body: ConcernAcknowledge, session: SessionDep, ctx: ContextDep
) -> ConcernView:
    """Record that staff were told: who acknowledged, and their reference (e.g. an ACCT plan)."""
    concern = await service.get_concern(session, ctx.principal, concern_id, lock=True)
    await service.acknowledge(
        session,
        ctx,
        concern,
        acknowledged_by=body.acknowledged_by,
        external_reference=body.external_reference,
    )
    return (await present(session, ctx.principal, [concern]))[0]
