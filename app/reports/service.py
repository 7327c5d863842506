"""The summary report: what happened in a period, in the prisons a caller may see."""

from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.auth.access import View, view_of
from app.common import csv
from app.common.dates import day_end, day_start
from app.common.enums import CaseState, Outcome
from app.context import Principal
from app.models.cases import Case
from app.models.safeguarding import SafeguardingConcern
from app.reports import repository as repo
from app.reports.repository import PercentileMethod
from app.reports.schemas import (
    Concerns,
    Durations,
    Reoffending,
    RepHours,
    RepHoursRow,
    ReportSummary,
    WellbeingChecks,
)

REOFFENDING_WINDOW_DAYS = 90
NO_OUTCOME = "none"


def period(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    """The dates asked for; by default the year up to today."""
    to_date = to_date or clock.now().date()
    return from_date or (to_date - timedelta(days=364)), to_date


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


async def summary(
    session: AsyncSession,
    *,
    prisons: list[str] | None,
    from_date: date,
    to_date: date,
    percentile_method: PercentileMethod | None = None,
) -> ReportSummary:
    """Every figure of the summary for `prisons` (None: all) between two dates, both included."""
    start, end = day_start(from_date), day_end(to_date)
    dialect = repo.dialect_of(session)
    by_state = await repo.counts_by(session, col(Case.state), prisons, start, end)
    by_outcome = await repo.counts_by(session, col(Case.outcome), prisons, start, end)
    by_source = await repo.counts_by(session, col(Case.source_system), prisons, start, end)
    concluded, (median, p90) = await repo.percentiles(
        session,
        repo.seconds_between(dialect, col(Case.created_at), col(Case.concluded_at)),
        repo.conclusion_conditions(prisons, start, end),
        (0.5, 0.9),
        method=percentile_method,
    )
    due, on_time = await repo.wellbeing(session, prisons, start, min(end, clock.now()))
    raised, acknowledged, still_open = await repo.concern_counts(session, prisons, start, end)
    _n, (ack_median,) = await repo.percentiles(
        session,
        repo.seconds_between(
            dialect, col(SafeguardingConcern.raised_at), col(SafeguardingConcern.acknowledged_at)
        ),
        [
            repo.in_prisons(col(SafeguardingConcern.prison_id), prisons),
            repo.in_period(col(SafeguardingConcern.raised_at), start, end),
        ],
        (0.5,),
        method=percentile_method,
    )
    reps = await repo.rep_minutes(session, prisons, start, end)
    parties, before, after, with_before, with_after = await repo.reoffending(
        session, prisons, start, end, REOFFENDING_WINDOW_DAYS
    )
    return ReportSummary(
        prison_ids=prisons,
        from_date=from_date,
        to_date=to_date,
        cases_referred=sum(by_state.values()),
        by_state={s.value: by_state.get(s.value, 0) for s in CaseState},
        by_outcome={
            **{o.value: by_outcome.get(o.value, 0) for o in Outcome},
            NO_OUTCOME: by_outcome.get(None, 0),
        },
        by_source=dict(sorted(by_source.items())),
        referral_to_conclusion=Durations(
            concluded=concluded,
            median_days=_round(median / 86400 if median is not None else None, 2),
            p90_days=_round(p90 / 86400 if p90 is not None else None, 2),
        ),
        wellbeing_checks=WellbeingChecks(
            due=due, on_time=on_time, share_on_time=_round(on_time / due, 4) if due else None
        ),
        concerns=Concerns(
            raised=raised,
            acknowledged=acknowledged,
            still_open=still_open,
            open_now=await repo.open_concerns_now(session, prisons),
            median_minutes_to_acknowledge=_round(ack_median / 60 if ack_median is not None else None, 1),
        ),
        rep_hours=RepHours(
            total_hours=round(sum(m for _r, m, _n in reps) / 60, 2),
            tasks=sum(n for _r, _m, n in reps),
            by_rep=[RepHoursRow(rep_id=r, hours=round(m / 60, 2), tasks=n) for r, m, n in reps],
        ),
        reoffending=Reoffending(
            window_days=REOFFENDING_WINDOW_DAYS,
            parties=parties,
            incidents_before=before,
            incidents_after=after,
            parties_with_incidents_before=with_before,
            parties_with_incidents_after=with_after,
        ),
    )


def present_report(principal: Principal, report: ReportSummary) -> ReportSummary:
    """The report as the caller's role may see it (see `VIEWS` in app/auth/access.py)."""
    if view_of(principal, "report") != View.FULL:
        report = report.model_copy(update={"rep_hours": report.rep_hours.model_copy(update={"by_rep": None})})
    return report


def to_csv(report: ReportSummary) -> str:
    """The report as CSV: one `section,item,value` row per figure."""
    return csv.write([("section", "item", "value"), *_rows(report.model_dump(by_alias=True, mode="json"))])


def _rows(data: dict[str, Any]) -> list[tuple[str, str, Any]]:
    rows: list[tuple[str, str, Any]] = []
    for section, value in data.items():
        if isinstance(value, dict):
            rows.extend((section, str(k), v) for k, v in value.items() if not isinstance(v, list))
            for k, v in value.items():
                if isinstance(v, list):
                    rows.extend((f"{section}.{k}", str(item.get("repId")), item.get("hours")) for item in v)
        elif isinstance(value, list):
            rows.append((section, "", " ".join(map(str, value))))
        else:
            rows.append((section, "", value))
    return rows
