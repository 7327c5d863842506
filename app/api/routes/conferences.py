"""Conferences: arrangements and outcome; agreements (a conference's, or one carried by shuttle or
letters) and their items."""

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
from app.cases.schemas import ConferenceDetails
from app.common.enums import AgreementStatus
from app.conferences import agreements, service
from app.conferences.schemas import (
    AgreementCreate,
    AgreementItemPatch,
    AgreementItemPublic,
    AgreementPublic,
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
    """Whether the conference was held, who came (`attendedPartyIds`), and the outcome agreement
    with who agreed to it (`agreedBy`: every party taking part who attended, supporters aside).
    Held: the conference's gates are checked again (recording that it did not happen needs none)."""
    if body.held:
        refuse_unmet_gates(Action.CONFERENCE_HELD, ctx, bundle)
    conference = await service.record_outcome(session, ctx, bundle, body)
    await session.flush()
    return await service.present_conference(session, ctx.principal, conference)


@router.post(
    "/{case_id}/agreement",
    status_code=201,
    response_model=AgreementPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONFERENCE_MANAGE)],
)
async def record_agreement(
    body: AgreementCreate, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> AgreementPublic:
    """Record an agreement reached by shuttle mediation or letters (only in those states): its
    items, and who agreed (`agreedBy`: every party taking part, supporters aside). Each item is
    checked on at its due date, as a conference's are."""
    return await agreements.record_carried_agreement(session, ctx, bundle, body)


@router.get(
    "/{case_id}/agreements",
    response_model=list[AgreementPublic],
    responses=errors(404),
    dependencies=[permission(Permission.CONFERENCE_READ), KNOWN_QUERY],
)
async def list_agreements(bundle: CaseForRead, session: SessionDep) -> list[AgreementPublic]:
    """Every agreement of the case (at its conference, by shuttle or by letters), oldest first,
    with its items and who agreed."""
    return await agreements.agreements_of(session, bundle.case.id)


@router.patch(
    "/{case_id}/agreement-items/{item_id}",
    response_model=AgreementItemPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.CONFERENCE_MANAGE)],
)
async def mark_agreement_item(
    item_id: uuid.UUID, body: AgreementItemPatch, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> AgreementItemPublic:
    """Mark a commitment kept or broken, closed case or not. Broken asks the practitioner for a
    review and to tell the person harmed at once; settling the last one asks them to tell them
    too (`outcome_feedback` tasks, for parties who have not opted out)."""
    item = await agreements.mark_item(
        session, ctx, bundle, item_id, status=AgreementStatus(body.status), note=body.note
    )
    return AgreementItemPublic.model_validate(item)
