"""The summary report: what happened in a period, in the prisons a caller may see.

Every figure is defined once, in `DEFINITIONS`, which the report carries and docs/reports.md
repeats. Days are the prisons' local days.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.auth.access import View, view_of
from app.common import csv
from app.common.dates import local_period, local_zone, month_start, next_month
from app.common.enums import CaseState, DeclineReason, FeedbackStage, Outcome, PartyRole
from app.context import Principal
from app.models.cases import Case
from app.models.safeguarding import SafeguardingConcern
from app.reports import repository as repo
from app.reports.repository import PercentileMethod
from app.reports.schemas import (
    Concerns,
    Durations,
    FeedbackCell,
    FeedbackMonth,
    FeedbackStageBlock,
    FeedbackSummary,
    Period,
    Reoffending,
    RepHours,
    RepHoursRow,
    ReportSummary,
    WellbeingChecks,
)
from app.reports.suppression import THRESHOLD, suppressed_cells
from app.reps import hours

REOFFENDING_WINDOW_DAYS = 90
NO_OUTCOME = "none"
# A longer period is refused: the feedback block lists every month of it.
MAX_REPORT_DAYS = 1096
# The outcomes a case referred in the period can have, as the report counts them.
OUTCOMES = (
    Outcome.RESOLVED.value,
    Outcome.PARTIALLY_RESOLVED.value,
    Outcome.NOT_RESOLVED.value,
    Outcome.WITHDRAWN.value,
    repo.DECLINED,
    NO_OUTCOME,
)
FEEDBACK_QUESTIONS = ("feltHeard", "feltSafe", "wouldRecommend")
FEEDBACK_MEASURE = (
    "For each question, the share of answers that were 4 or 5 on the scale of 1 to 5 (0 to 1, two "
    "places), and the number of answers."
)

DEFINITIONS: dict[str, str] = {
    "period": "The days counted, from and to both included, in the prisons' local time (timeZone).",
    "casesReferred": "Cases referred in the period.",
    "byState": "Cases referred in the period, by the state they are in now.",
    "byOutcome": (
        "Cases referred in the period, by their outcome now: resolved, partially_resolved or "
        "not_resolved (concluded), withdrawn, declined (the reason is in byDeclineReason), or none yet."
    ),
    "byDeclineReason": "Cases referred in the period and declined, by the reason given.",
    "bySource": "Cases referred in the period, by the system that referred them.",
    "referralToConclusion": (
        "Cases whose work ended (concluded or withdrawn) in the period: how many, and the median and "
        "90th percentile of the days from referral to that end."
    ),
    "wellbeingChecks": (
        "Wellbeing checks whose due time falls in the period, whether that time has come yet or not. "
        "due: those not cancelled; completed: of those, done; onTime: done by the due time; overdue: "
        "still open after the due time; notYetDue: still open before it (due = completed + overdue + "
        "notYetDue); cancelled: counted apart; shareOnTime: onTime / (due - notYetDue)."
    ),
    "concerns": (
        "Safeguarding concerns raised in the period: all, acknowledged, still open; openNow counts "
        "every concern open now, whenever raised; the median minutes from raising to acknowledgement."
    ),
    "repHours": (
        "Reps' counted work in the period, on cases and tasks of the prisons reported: the minutes of "
        "every contact a rep recorded (when it happened), and of every task a rep completed (when it "
        "was completed) that wrote no contact. The same definition gives a rep's own activity "
        "(GET /reps/{id}/activity). Hours are minutes / 60 to two places."
    ),
    "reoffending": (
        "For each party of a case whose work ended in the period: other cases naming the same "
        "prisoner, referred within windowDays before the case's referral and after its end."
    ),
    "feedback": (
        "Participants' answers given in the whole calendar months inside the period, month by month "
        "and by the party's role when they answered. A cell of fewer than 5 answers is suppressed "
        "(its figures null, suppressed true), and so is a second cell of a month when only one would "
        "be, so that no cell can be worked out from the month's total. Comments are never reported."
    ),
}


def local_today() -> date:
    """Today in the prisons' local time."""
    return clock.now().astimezone(local_zone()).date()


def period(from_date: date | None, to_date: date | None) -> tuple[date, date]:
    """The dates asked for; by default the year up to today."""
    to_date = to_date or local_today()
    return from_date or (to_date - timedelta(days=364)), to_date


def whole_months(first: date, last: date) -> tuple[date, date] | None:
    """The first and last day of the whole calendar months inside `first`..`last` (None: none)."""
    start = first if first.day == 1 else next_month(first)
    end = last if (last + timedelta(days=1)).day == 1 else month_start(last) - timedelta(days=1)
    return (start, end) if start <= end else None


def months_between(first: date, last: date) -> list[date]:
    """The first day of every month from `first`'s to `last`'s."""
    months, month = [], month_start(first)
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


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
    start, end = local_period(from_date, to_date)
    dialect = repo.dialect_of(session)
    by_state = await repo.counts_by(session, col(Case.state), prisons, start, end)
    by_outcome = await repo.counts_by(session, repo.outcome_key(), prisons, start, end)
    by_reason = await repo.counts_by(session, col(Case.decline_reason), prisons, start, end)
    by_source = await repo.counts_by(session, col(Case.source_system), prisons, start, end)
    concluded, (median, p90) = await repo.percentiles(
        session,
        repo.seconds_between(dialect, col(Case.created_at), col(Case.concluded_at)),
        repo.conclusion_conditions(prisons, start, end),
        (0.5, 0.9),
        method=percentile_method,
    )
    checks = await repo.wellbeing(session, prisons, start, end, clock.now())
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
    reps = await hours.rep_totals(session, start, end, prisons=prisons)
    parties, before, after, with_before, with_after = await repo.reoffending(
        session, prisons, start, end, REOFFENDING_WINDOW_DAYS
    )
    came = checks["due"] - checks["notYetDue"]
    total_minutes = sum(r.minutes for r in reps)
    zone = get_zone_name()
    return ReportSummary(
        prison_ids=prisons,
        from_date=from_date,
        to_date=to_date,
        period=Period(from_=from_date, to=to_date, time_zone=zone),
        cases_referred=sum(by_state.values()),
        by_state={s.value: by_state.get(s.value, 0) for s in CaseState},
        by_outcome={
            **{o: by_outcome.get(None if o == NO_OUTCOME else o, 0) for o in OUTCOMES},
            # An outcome recorded some other way is counted under its own name, never dropped.
            **{
                str(k): n
                for k, n in sorted(by_outcome.items(), key=lambda found: str(found[0]))
                if k is not None and k not in OUTCOMES
            },
        },
        by_decline_reason={r.value: by_reason.get(r.value, 0) for r in DeclineReason},
        by_source=dict(sorted(by_source.items())),
        referral_to_conclusion=Durations(
            concluded=concluded,
            median_days=_round(median / 86400 if median is not None else None, 2),
            p90_days=_round(p90 / 86400 if p90 is not None else None, 2),
        ),
        wellbeing_checks=WellbeingChecks(
            due=checks["due"],
            completed=checks["completed"],
            on_time=checks["onTime"],
            overdue=checks["overdue"],
            not_yet_due=checks["notYetDue"],
            cancelled=checks["cancelled"],
            share_on_time=_round(checks["onTime"] / came, 4) if came else None,
        ),
        concerns=Concerns(
            raised=raised,
            acknowledged=acknowledged,
            still_open=still_open,
            open_now=await repo.open_concerns_now(session, prisons),
            median_minutes_to_acknowledge=_round(ack_median / 60 if ack_median is not None else None, 1),
        ),
        rep_hours=RepHours(
            total_minutes=total_minutes,
            total_hours=hours.hours(total_minutes),
            activities=sum(r.activities for r in reps),
            by_rep=[
                RepHoursRow(
                    rep_id=r.rep_id,
                    name=r.name,
                    minutes=r.minutes,
                    hours=hours.hours(r.minutes),
                    activities=r.activities,
                )
                for r in reps
            ],
        ),
        reoffending=Reoffending(
            window_days=REOFFENDING_WINDOW_DAYS,
            parties=parties,
            incidents_before=before,
            incidents_after=after,
            parties_with_incidents_before=with_before,
            parties_with_incidents_after=with_after,
        ),
        feedback=await feedback_summary(session, prisons, from_date, to_date),
        definitions=DEFINITIONS,
    )


def get_zone_name() -> str:
    """The name of the prisons' time zone."""
    return str(local_zone().key)


# --- feedback --------------------------------------------------------------------------------------


async def feedback_summary(
    session: AsyncSession, prisons: list[str] | None, from_date: date, to_date: date
) -> FeedbackSummary:
    """Answers month by month over the whole months inside the period, suppressed where small."""
    months = whole_months(from_date, to_date)
    if months is None:
        return FeedbackSummary(period=None, threshold=THRESHOLD, measure=FEEDBACK_MEASURE, stages=[])
    first, last = months
    start, end = local_period(first, last)
    answers = await repo.feedback_answers(session, prisons, start, end)
    zone = local_zone()
    roles = [r.value for r in PartyRole]
    roles += sorted({role for _at, _stage, role, *_ in answers} - set(roles))
    # (stage, month, role) -> the answers' scores
    cells: dict[tuple[str, date, str], list[tuple[int, int, int]]] = defaultdict(list)
    for at, stage, role, heard, safe, recommend in answers:
        cells[(stage, month_start(at.astimezone(zone).date()), role)].append((heard, safe, recommend))
    stages = [
        FeedbackStageBlock(
            stage=stage.value,
            months=[
                _feedback_month(cells, stage.value, month, roles) for month in months_between(first, last)
            ],
        )
        for stage in FeedbackStage
    ]
    return FeedbackSummary(
        period=Period(from_=first, to=last, time_zone=get_zone_name()),
        threshold=THRESHOLD,
        measure=FEEDBACK_MEASURE,
        stages=stages,
    )


def _feedback_month(
    cells: dict[tuple[str, date, str], list[tuple[int, int, int]]], stage: str, month: date, roles: list[str]
) -> FeedbackMonth:
    by_role = {role: cells.get((stage, month, role), []) for role in roles}
    everyone = [scores for role in roles for scores in by_role[role]]
    hidden = suppressed_cells({role: len(s) for role, s in by_role.items()}, total=len(everyone))
    return FeedbackMonth(
        month=f"{month:%Y-%m}",
        by_role={role: _cell(scores, suppressed=role in hidden) for role, scores in by_role.items()},
        total=_cell(everyone, suppressed=len(everyone) < THRESHOLD),
    )


def _cell(scores: list[tuple[int, int, int]], *, suppressed: bool) -> FeedbackCell:
    if suppressed or not scores:
        return FeedbackCell(
            answers=None, felt_heard=None, felt_safe=None, would_recommend=None, suppressed=True
        )
    n = len(scores)

    def share(i: int) -> float:
        return round(sum(1 for s in scores if s[i] >= 4) / n, 2)

    return FeedbackCell(
        answers=n, felt_heard=share(0), felt_safe=share(1), would_recommend=share(2), suppressed=False
    )


# --- by month, for the printed report's chart ---------------------------------------------------

# The chart shows at most this many months, the latest of the period.
CHART_MONTHS = 24


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """The main figures of one month of the period (the month cut to the period at its ends)."""

    month: date
    referred: int
    ended: int
    rep_hours: float


async def by_month(
    session: AsyncSession, *, prisons: list[str] | None, from_date: date, to_date: date
) -> list[MonthFigures]:
    """Cases referred, cases whose work ended, and reps' hours, month by month, as the summary
    defines them."""
    figures = []
    for month in months_between(from_date, to_date)[-CHART_MONTHS:]:
        first = max(month, from_date)
        last = min(next_month(month) - timedelta(days=1), to_date)
        start, end = local_period(first, last)
        reps = await hours.rep_totals(session, start, end, prisons=prisons)
        figures.append(
            MonthFigures(
                month=month,
                referred=await repo.count_in_period(session, col(Case.created_at), prisons, start, end),
                ended=await repo.count_in_period(session, col(Case.concluded_at), prisons, start, end),
                rep_hours=hours.hours(sum(r.minutes for r in reps)),
            )
        )
    return figures


def present_report(principal: Principal, report: ReportSummary) -> ReportSummary:
    """The report as the caller's role may see it (see `VIEWS` in app/auth/access.py)."""
    if view_of(principal, "report") != View.FULL:
        report = report.model_copy(update={"rep_hours": report.rep_hours.model_copy(update={"by_rep": None})})
    return report


# --- CSV ---------------------------------------------------------------------------------------------

# What names an element of a list in the CSV's `item` column.
_LIST_KEYS = ("repId", "month", "stage")


def to_csv(report: ReportSummary) -> str:
    """The report as CSV: one `section,item,value` row per figure; `item` is the figure's path
    inside its section (`byRep.<repId>.hours`, `stages.conclusion.months.2026-01.total.answers`)."""
    rows: list[tuple[str, str, Any]] = [("section", "item", "value")]
    for section, value in report.model_dump(by_alias=True, mode="json").items():
        rows.extend((section, ".".join(path), v) for path, v in _flatten(value, []))
    return csv.write(rows)


def _flatten(value: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flatten(v, [*path, str(k)])]
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value) and value:
            found = []
            for i, element in enumerate(value):
                key = next((str(element[k]) for k in _LIST_KEYS if k in element), str(i))
                found.extend(_flatten(element, [*path, key]))
            return found
        return [(path, " ".join(map(str, value)))]
    return [(path, value)]


def generated_at() -> datetime:
    """Now, in the prisons' local time."""
    return clock.now().astimezone(local_zone())
