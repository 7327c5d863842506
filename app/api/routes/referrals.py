"""Intake: referrals that become cases, once per source record."""

from fastapi import APIRouter, Response

from app.api.deps import ContextDep, SessionDep, permission
from app.api.responses import errors, model_response
from app.auth.access import Permission, require_prison, sees_case
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.schemas import CaseView
from app.cases.views import present_case
from app.context import Principal
from app.errors import ReferralExistsError
from app.models.cases import Case
from app.referrals import incident_reports, service
from app.referrals.schemas import IncidentReport, ReferralCreate

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
async def create_referral(body: ReferralCreate, session: SessionDep, ctx: ContextDep) -> Response:
    """Refer an incident; the same source again returns its case (200), or 409 if outside your scope."""
    require_prison(ctx.principal, body.prison_id)
    referred = await service.refer(session, ctx, body)
    return await _referred(session, ctx, referred.case, referred.created, referred.bundle)


# On PostgreSQL, a referral asked for plainly with an API key is made by `app.api.direct`.
REFERRAL_ROUTE = router.routes[-1]


@router.post(
    "/incident-reports",
    status_code=201,
    response_model=CaseView,
    responses={
        200: {"model": CaseView, "description": "The case already made from this report"},
        **errors(409, 422),
    },
    dependencies=[permission(Permission.REFERRAL_CREATE)],
)
async def refer_incident_report(body: IncidentReport, session: SessionDep, ctx: ContextDep) -> Response:
    """Refer an incident report exactly as the incident-reporting system returns it.

    Prisoners in a harm role become parties (docs/integration.md has the role and category tables);
    a report naming none is refused with 422. The same report (`reportReference` in `location`)
    again returns its case with 200, adding any prisoner newly in a harm role.
    """
    require_prison(ctx.principal, body.location)
    case, created = await incident_reports.refer_report(session, ctx, body)
    return await _referred(session, ctx, case, created)


async def _referred(
    session: SessionDep,
    ctx: ContextDep,
    case: Case,
    created: bool,
    bundle: CaseBundle | None = None,
) -> Response:
    if not created:
        rep_assigned = await repo.rep_is_assigned(session, case.id, ctx.principal.rep_id)
        if not sees_case(ctx.principal, case, rep_assigned=rep_assigned):
            # Another prison's case, or another client's referral: say no more than that it exists.
            raise ReferralExistsError(
                f"{case.source_system} {case.source_reference} was already referred, "
                "as a case outside your scope"
            )
    bundle = bundle or await repo.load_bundle(session, case)
    return referred_response(ctx.principal, bundle, created=created)


def referred_response(principal: Principal, bundle: CaseBundle, *, created: bool) -> Response:
    """The case a referral names, as the caller may see it: 201 made now, 200 found."""
    return model_response(
        present_case(principal, bundle),
        status_code=201 if created else 200,
        etag=bundle.case.version,
        location=f"/cases/{bundle.case.id}",
    )
