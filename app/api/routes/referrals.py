"""Intake: referrals that become cases, once per source record."""

from fastapi import APIRouter, Response

from app.api.deps import ContextDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission, require_prison
from app.cases import repository as repo
from app.cases.schemas import CaseView
from app.cases.views import present_case
from app.referrals import service
from app.referrals.schemas import ReferralCreate

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.post(
    "",
    status_code=201,
    response_model=CaseView,
    responses={
        200: {"model": CaseView, "description": "The case already made from this source record"},
        **errors(409, 422),
    },
    dependencies=[permission(Permission.REFERRAL_CREATE)],
)
async def create_referral(
    body: ReferralCreate, session: SessionDep, ctx: ContextDep, response: Response
) -> CaseView:
    """Refer an incident; the same source system and reference again returns the same case (200)."""
    require_prison(ctx.principal, body.prison_id)
    case, created = await service.refer(session, ctx, body)
    if not created:
        response.status_code = 200
    bundle = await repo.load_bundle(session, case)
    response.headers["ETag"] = f'"{case.version}"'
    response.headers["Location"] = f"/cases/{case.id}"
    return present_case(ctx.principal, bundle)
