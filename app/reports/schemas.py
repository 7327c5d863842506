"""Shape of the summary report."""

import uuid
from datetime import date, datetime

from app.common.schemas import ApiModel


class Durations(ApiModel):
    """Days from referral to conclusion of the cases concluded in the period."""

    concluded: int
    median_days: float | None
    p90_days: float | None


class WellbeingChecks(ApiModel):
    """Checks due in the period (up to now), cancelled ones aside, and how many were done by their time."""

    due: int
    on_time: int
    share_on_time: float | None


class Concerns(ApiModel):
    """Safeguarding concerns raised in the period, and the ones open now."""

    raised: int
    acknowledged: int
    still_open: int
    open_now: int
    median_minutes_to_acknowledge: float | None


class RepHoursRow(ApiModel):
    rep_id: uuid.UUID
    hours: float
    tasks: int


class RepHours(ApiModel):
    """Volunteer hours logged on tasks reps completed in the period."""

    total_hours: float
    tasks: int
    by_rep: list[RepHoursRow] | None = None


class Reoffending(ApiModel):
    """For each party of a case concluded in the period: other cases naming them as a party,
    referred in the window before the case's referral and in the window after its conclusion."""

    window_days: int
    parties: int
    incidents_before: int
    incidents_after: int
    parties_with_incidents_before: int
    parties_with_incidents_after: int


class ReportSummary(ApiModel):
    prison_ids: list[str] | None
    from_date: date
    to_date: date
    cases_referred: int
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    by_source: dict[str, int]
    referral_to_conclusion: Durations
    wellbeing_checks: WellbeingChecks
    concerns: Concerns
    rep_hours: RepHours
    reoffending: Reoffending


class IncidentCounts(ApiModel):
    """Incidents of one category or role, before and after; null where suppressed."""

    incidents_before: int | None
    incidents_after: int | None
    suppressed: bool


class OutcomePeriod(ApiModel):
    """The figures for windows of `months` months either side of each person's case."""

    months: int
    participants: int | None
    with_data: int | None
    incidents_before: int | None
    incidents_after: int | None
    by_category: dict[str, IncidentCounts]
    by_role: dict[str, IncidentCounts]
    suppressed: bool


class OutcomeGroup(ApiModel):
    periods: list[OutcomePeriod]


class OutcomesReport(ApiModel):
    """The outcomes report: `periods` for the participants, `comparison` for those who declined
    or withdrew; `definitions` says what each figure counts."""

    prison_ids: list[str] | None
    from_date: date
    to_date: date
    as_of: datetime
    definitions: dict[str, str]
    periods: list[OutcomePeriod]
    comparison: OutcomeGroup
