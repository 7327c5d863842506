"""Reports for managers and funders."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from app.api.deps import PrincipalDep, SessionDep, permission
from app.api.negotiation import wants_html
from app.api.responses import errors
from app.auth.access import Permission, require_prison
from app.common.schemas import Day, PrisonId
from app.context import Principal
from app.errors import ValidationFailedError
from app.reports import outcomes, printable, service
from app.reports.schemas import OutcomesReport, ReportSummary

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get(
    "/summary",
    response_model=ReportSummary,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}},
            },
            "description": "The summary: JSON, CSV with `Accept: text/csv`, or a printable page with "
            "its figures by month with `Accept: text/html`.",
        },
        **errors(422),
    },
    dependencies=[permission(Permission.REPORTS_READ)],
)
async def summary(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
    from_date: Annotated[Day | None, Query(alias="from")] = None,
    to_date: Annotated[Day | None, Query(alias="to")] = None,
) -> ReportSummary | Response:
    """Cases, durations, wellbeing checks, concerns, rep hours, the reoffending measure and
    participants' feedback, for one prison or every prison in the caller's caseload. Each figure
    is defined in `definitions` (and docs/reports.md); the period is at most 1096 days."""
    prisons = _prisons(principal, prison_id)
    start, end = _period(from_date, to_date)
    report = service.present_report(
        principal, await service.summary(session, prisons=prisons, from_date=start, to_date=end)
    )
    accept = request.headers.get("accept", "")
    if "text/csv" in accept:
        return Response(
            service.to_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="rj-summary-{start}-{end}.csv"'},
        )
    if wants_html(accept):
        months = await service.by_month(session, prisons=prisons, from_date=start, to_date=end)
        return HTMLResponse(
            printable.render(report, months, service.generated_at()),
            headers={"Content-Security-Policy": printable.CONTENT_SECURITY_POLICY},
        )
    return report


@router.get(
    "/outcomes",
    response_model=OutcomesReport,
    responses=errors(422),
    dependencies=[permission(Permission.REPORTS_READ)],
)
async def outcomes_report(
    session: SessionDep,
    principal: PrincipalDep,
    prison_id: Annotated[PrisonId | None, Query(alias="prisonId")] = None,
    from_date: Annotated[Day | None, Query(alias="from")] = None,
    to_date: Annotated[Day | None, Query(alias="to")] = None,
) -> OutcomesReport:
    """The prison incidents of the people in cases concluded in the period, 3, 6 and 12 months
    before and after, beside those who declined or withdrew; small numbers suppressed. For one
    prison or every prison in the caller's caseload; docs/reports.md has the definitions."""
    prisons = _prisons(principal, prison_id)
    start, end = _period(from_date, to_date)
    return await outcomes.outcomes(session, prisons=prisons, from_date=start, to_date=end)


def _prisons(principal: Principal, prison_id: str | None) -> list[str] | None:
    """The prison asked for (within the caller's caseload), else the whole caseload (None: all)."""
    if prison_id is not None:
        require_prison(principal, prison_id)
        return [prison_id]
    return sorted(principal.prisons) if principal.prisons is not None else None


def _period(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    start, end = service.period(from_date, to_date)
    if start > end:
        raise ValidationFailedError("from is after to")
    if (end - start).days >= service.MAX_REPORT_DAYS:
        raise ValidationFailedError(f"ask for at most {service.MAX_REPORT_DAYS} days at a time")
    return start, end
