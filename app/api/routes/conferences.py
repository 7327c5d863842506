"""Conferences: arrangements, outcome, and the outcome agreement's items."""

import uuid

from fastapi import APIRouter

from app.api.deps import CaseForRead, CaseForUpdate, ContextDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission
from app.cases.schemas import ConferenceDetails
from app.common.enums import AgreementStatus
from app.conferences import service
from app.conferences.schemas import (
    AgreementItemPatch,
    AgreementItemPublic,
    ConferenceOutcome,
    ConferencePublic,
)
from app.errors import NotFoundError
from app.flows.transitions import refuse_unmet_gates
from app.workflows.case_workflow import Action

router = APIRouter(prefix="/cases", tags=["conferences"])


@router.get(
    "/{case_id}/conference",
    response_model=ConferencePublic,
    responses=errors(404),
    dependencies=[permission(Permission.CONFERENCE_READ)],
)
async def get_conference(
    bundle: CaseForRead, session: SessionDep, principal: PrincipalDep
) -> ConferencePublic:
    """The case's conference and its agreement."""
    conference = await service.get_conference(session, bundle.case.id)
    if conference is None:
        raise NotFoundError(f"no conference has been arranged for {bundle.case.reference}")
    return await service.present_conference(session, principal, conference)


@router.post(
    "/{case_id}/conference",
    response_model=ConferencePublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONFERENCE_MANAGE)],
)
async def arrange_conference(
    body: ConferenceDetails, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> ConferencePublic:
    """Change the arrangements of the scheduled conference (its gates, and non-associations, are
    checked again)."""
    refuse_unmet_gates(Action.CONFERENCE_REARRANGED, ctx, bundle)
    conference = await service.update_arrangements(session, ctx, bundle, body)
    return await service.present_conference(session, ctx.principal, conference)


@router.post(
    "/{case_id}/conference/outcome",
    response_model=ConferencePublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONFERENCE_MANAGE)],
)
async def record_outcome(
    body: ConferenceOutcome, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> ConferencePublic:
    """Whether the conference was held, who came, and the outcome agreement. Held: the
    conference's gates are checked again (recording that it did not happen needs none)."""
    if body.held:
        refuse_unmet_gates(Action.CONFERENCE_HELD, ctx, bundle)
    conference = await service.record_outcome(session, ctx, bundle, body)
    await session.flush()
    return await service.present_conference(session, ctx.principal, conference)


@router.patch(
    "/{case_id}/agreement-items/{item_id}",
    response_model=AgreementItemPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONFERENCE_MANAGE)],
)
async def mark_agreement_item(
    item_id: uuid.UUID, body: AgreementItemPatch, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> AgreementItemPublic:
    """Mark a commitment kept or broken; broken asks the practitioner for a review."""
    item = await service.mark_item(
        session, ctx, bundle, item_id, status=AgreementStatus(body.status), note=body.note
    )
    return AgreementItemPublic.model_validate(item)
