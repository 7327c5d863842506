"""A case's parties: changing one, their responsibility ledger, and their feedback."""

import uuid

from fastapi import APIRouter, Response

from app.api.deps import (
    KNOWN_QUERY,
    CaseForRead,
    CaseForUpdate,
    ContextDep,
    IfMatchOptional,
    IfMatchRequired,
    SessionDep,
    permission,
)
from app.api.responses import case_response, errors
from app.auth.access import Permission
from app.cases import feedback, responsibility
from app.cases.schemas import (
    CaseView,
    FeedbackCreate,
    FeedbackRecord,
    PartyPatch,
    ResponsibilityCreate,
    ResponsibilityRecord,
)
from app.cases.service import check_version
from app.flows import party_changes, safety

router = APIRouter(prefix="/cases", tags=["cases"])


@router.patch(
    "/{case_id}/parties/{party_id}",
    response_model=CaseView,
    responses=errors(404, 409, 412, 422, 428),
    dependencies=[permission(Permission.PARTY_MANAGE)],
)
async def patch_party(
    party_id: uuid.UUID,
    body: PartyPatch,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchRequired,
) -> Response:
    """Change a party (If-Match required): `followUp` says how they want to be checked on once
    the work ends, and their open wellbeing checks follow at once. Answers with the case."""
    await party_changes.change_party(session, ctx, bundle, party_id, body, expected_version=version)
    return case_response(ctx.principal, bundle)


@router.post(
    "/{case_id}/parties/{party_id}/responsibility",
    status_code=201,
    response_model=ResponsibilityRecord,
    responses=errors(404, 409, 412, 422),
    dependencies=[permission(Permission.RESPONSIBILITY_RECORD)],
)
async def record_responsibility(
    party_id: uuid.UUID,
    body: ResponsibilityCreate,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
    version: IfMatchOptional,
    response: Response,
) -> ResponsibilityRecord:
    """Append to the ledger of whether a party (role harmer or both) acknowledges their part in
    the harm. A rep may record only `acknowledged: false`. Never sent outside the service."""
    check_version(bundle.case, version)
    entry = await safety.record_responsibility(session, ctx, bundle, party_id, body)
    response.headers["ETag"] = f'"{bundle.case.version}"'
    return ResponsibilityRecord.model_validate(entry)


@router.get(
    "/{case_id}/parties/{party_id}/responsibility",
    response_model=list[ResponsibilityRecord],
    responses=errors(404),
    dependencies=[permission(Permission.RESPONSIBILITY_READ), KNOWN_QUERY],
)
async def responsibility_ledger(
    party_id: uuid.UUID, bundle: CaseForRead, session: SessionDep
) -> list[ResponsibilityRecord]:
    """Every entry of a party's responsibility ledger, oldest first."""
    return [
        ResponsibilityRecord.model_validate(e)
        for e in await responsibility.responsibility_ledger(session, bundle.case, party_id)
    ]


@router.post(
    "/{case_id}/parties/{party_id}/feedback",
    status_code=201,
    response_model=FeedbackRecord,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.FEEDBACK_RECORD)],
)
async def record_feedback(
    party_id: uuid.UUID,
    body: FeedbackCreate,
    bundle: CaseForUpdate,
    session: SessionDep,
    ctx: ContextDep,
) -> FeedbackRecord:
    """Record a participant's answers (1 to 5) at `conclusion` or `follow_up`, once per stage
    (409 `FEEDBACK_EXISTS` for a second). There is no way to read them back: reports give
    aggregates of at least five answers, and the person gets theirs through subject access."""
    return FeedbackRecord.model_validate(await feedback.record_feedback(session, ctx, bundle, party_id, body))
