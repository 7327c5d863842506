"""Legal holds: keeping a case past the retention period."""

import uuid
from typing import Annotated

from fastapi import APIRouter
from pydantic import StringConstraints

from app.api.deps import CaseForUpdate, ContextDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission
from app.common.schemas import ApiModel, RequestModel, StrictBool
from app.retention.service import set_legal_hold

router = APIRouter(prefix="/cases", tags=["retention"])


class LegalHoldSet(RequestModel):
    hold: StrictBool
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None


class LegalHoldPublic(ApiModel):
    case_id: uuid.UUID
    reference: str
    legal_hold: bool
    reason: str | None


@router.put(
    "/{case_id}/legal-hold",
    response_model=LegalHoldPublic,
    responses=errors(404, 409, 422),
    dependencies=[permission(Permission.LEGAL_HOLD_SET)],
)
async def legal_hold(
    body: LegalHoldSet, bundle: CaseForUpdate, session: SessionDep, ctx: ContextDep
) -> LegalHoldPublic:
    """Hold a case past retention, with a reason, or release it (admins)."""
    case = await set_legal_hold(session, ctx, bundle.case, hold=body.hold, reason=body.reason)
    return LegalHoldPublic(
        case_id=case.id, reference=case.reference, legal_hold=case.legal_hold, reason=case.legal_hold_reason
    )
