"""Subject access requests, as prison systems' SAR service calls them."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from app.api.deps import PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission
from app.common.schemas import ApiModel, Day, PrisonerNumber
from app.errors import ValidationFailedError
from app.subject_access.service import subject_access

router = APIRouter(tags=["subject access"])


class SubjectAccessDocument(ApiModel):
    content: dict[str, Any]


@router.get(
    "/subject-access-request",
    response_model=SubjectAccessDocument,
    responses={
        204: {"description": "Nothing is held about this prisoner in the caller's caseload"},
        209: {
            "description": "Only a case reference number (CRN) was given: this service holds prisoners by PRN"
        },
        **errors(400, 422),
    },
    dependencies=[permission(Permission.SUBJECT_ACCESS)],
)
async def subject_access_request(
    session: SessionDep,
    principal: PrincipalDep,
    prn: Annotated[PrisonerNumber | None, Query()] = None,
    crn: Annotated[str | None, Query(max_length=20)] = None,
    from_date: Annotated[Day | None, Query(alias="fromDate")] = None,
    to_date: Annotated[Day | None, Query(alias="toDate")] = None,
) -> SubjectAccessDocument | Response:
    """Everything held about one prisoner (by PRN) in the caller's caseload, between two dates
    when given; a prisoner held only outside the caseload is 204, as one nothing is held about."""
    if prn is None:
        if crn is not None:
            return Response(status_code=209)
        raise ValidationFailedError("give prn, the prisoner number")
    if from_date and to_date and from_date > to_date:
        raise ValidationFailedError("fromDate is after toDate")
    content = await subject_access(session, principal, prn, from_date=from_date, to_date=to_date)
    if content is None:
        return Response(status_code=204)
    return SubjectAccessDocument(content=content)
