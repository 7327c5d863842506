"""Intake: referrals that become cases, once per source record."""

from typing import Annotated

from fastapi import APIRouter, Response

from app.api.deps import ContextDep, SessionDep, UnitDep, allowed, permission
from app.api.responses import errors, model_response
from app.auth.access import Permission, require_prison
from app.cases import repository as repo
from app.cases.repository import CaseBundle
from app.cases.schemas import CaseView
from app.cases.service import may_see
from app.cases.views import present_case
from app.context import RequestContext
from app.db import Conn
from app.errors import ReferralExistsError
from app.models.cases import Case
from app.referrals import incident_reports, service
from app.referrals.schemas import IncidentRecorded, IncidentReport, ReferralCreate

router = APIRouter(prefix="/referrals", tags=["referrals"])


@router.post(
    "",
    status_code=201,
    response_model=CaseView,
    responses={
        200: {"model": CaseView, "description": "The case already made from this source record"},
        **errors(409, 422),
    },
)
async def create_referral(
    body: ReferralCreate, unit: UnitDep, ctx: Annotated[RequestContext, allowed(Permission.REFERRAL_CREATE)]
) -> Response:
    """Refer an incident; the same source again returns its case (200), or 409 if outside your scope."""
    require_prison(ctx.principal, body.prison_id)
    conn = await unit.conn()
    referred = await service.refer(conn, ctx, body)
    return await _referred(conn, ctx, referred.case, referred.created, referred.bundle)


@router.post(
    "/incident-reports",
    status_code=201,
    response_model=CaseView,
    responses={
        200: {"model": CaseView, "description": "The case already made from this report"},
        202: {
            "model": IncidentRecorded,
            "description": "Recorded only: reports of its type are not referred",
        },
        **errors(409, 422),
    },
    dependencies=[permission(Permission.REFERRAL_CREATE)],
)
async def refer_incident_report(body: IncidentReport, session: SessionDep, ctx: ContextDep) -> Response:
    """Refer an incident report exactly as the incident-reporting system returns it.

    Prisoners in a harm role become parties (docs/integration.md has the role and category tables);
    a report naming none is refused with 422. The same report (`reportReference` in `location`)
    again returns its case with 200, adding any prisoner newly in a harm role. Every report is
    kept against the prisoners it names, for the outcomes report; one whose type the settings do
    not refer in its prison (RJ_REFERRAL_INCIDENT_TYPES) is only kept, answered 202.
    """
    require_prison(ctx.principal, body.location)
    case, created = await incident_reports.refer_report(session, ctx, body)
    if case is None:
        return model_response(
            IncidentRecorded(
                report_reference=body.report_reference,
                location=body.location,
                prisoners_recorded=len({p.prisoner_number for p in body.prisoners_involved}),
                reason=f"reports of type {body.type} are not referred in {body.location}; "
                "it is kept for the outcomes report",
            ),
            status_code=202,
        )
    return await _referred(session, ctx, case, created)


async def _referred(
    conn: Conn, ctx: RequestContext, case: Case, created: bool, bundle: CaseBundle | None = None
) -> Response:
    """The case a referral names, as the caller may see it: 201 made now, 200 found; a case
    found outside the caller's scope is 409, saying no more than that it exists."""
    if bundle is None:
        bundle = await repo.find_bundle(conn, str(case.id))
        assert bundle is not None  # noqa: S101 - found by the referral in this transaction
    if not created and not may_see(ctx.principal, bundle):
        raise ReferralExistsError(
            f"{case.source_system} {case.source_reference} was already referred, as a case outside your scope"
        )
    return model_response(
        present_case(ctx.principal, bundle),
        status_code=201 if created else 200,
        etag=bundle.case.version,
        location=f"/cases/{bundle.case.id}",
    )
