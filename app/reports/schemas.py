"""Shape of the summary report. docs/reports.md defines every figure; so does `definitions`."""

import uuid
from datetime import date, datetime

from pydantic import Field

from app.common.schemas import ApiModel


class Period(ApiModel):
    """The days a figure covers, both included, in the prisons' local time."""

    from_: date = Field(alias="from")
    to: date
    time_zone: str


class Durations(ApiModel):
    """Days from referral to conclusion of the cases concluded in the period."""

    concluded: int
    median_days: float | None
    p90_days: float | None


class WellbeingChecks(ApiModel):
    """Wellbeing checks whose due time falls in the period, whether that time has come or not."""

    due: int = Field(description="Checks due in the period, cancelled ones aside.")
    completed: int = Field(description="Of those, done (whenever).")
    on_time: int = Field(description="Of those, done by their due time.")
    overdue: int = Field(description="Of those, still open after their due time.")
    not_yet_due: int = Field(description="Of those, still open before their due time.")
    cancelled: int = Field(description="Checks due in the period that were cancelled, counted apart.")
    share_on_time: float | None = Field(
        description="onTime / (due - notYetDue): of the checks whose time has come, the share done "
        "by it; null when there are none."
    )


class Concerns(ApiModel):
    """Safeguarding concerns raised in the period, and the ones open now."""

    raised: int
    acknowledged: int
    still_open: int
    open_now: int
    median_minutes_to_acknowledge: float | None


class RepHoursRow(ApiModel):
    rep_id: uuid.UUID
    name: str
    minutes: int
    hours: float
    activities: int = Field(description="Contacts, and completed tasks that wrote no contact.")


class RepHours(ApiModel):
    """Reps' counted work in the period, in the prisons reported (one definition: docs/reports.md)."""

    total_minutes: int
    total_hours: float
    activities: int
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


class FeedbackCell(ApiModel):
    """Answers of one group in one month: each figure null when suppressed (fewer than 5 answers,
    or suppressed as the complement of another cell)."""

    answers: int | None
    felt_heard: float | None
    felt_safe: float | None
    would_recommend: float | None
    suppressed: bool


class FeedbackMonth(ApiModel):
    month: str = Field(description="YYYY-MM, a whole calendar month in local time.")
    by_role: dict[str, FeedbackCell] = Field(description="By the party's role when they answered.")
    total: FeedbackCell


class FeedbackStageBlock(ApiModel):
    stage: str
    months: list[FeedbackMonth]


class FeedbackSummary(ApiModel):
    """Participants' answers, month by month, for the whole calendar months inside the period."""

    period: Period | None = Field(description="The whole months covered; null when the period holds none.")
    threshold: int
    measure: str
    stages: list[FeedbackStageBlock]


class ReportSummary(ApiModel):
    prison_ids: list[str] | None
    from_date: date
    to_date: date
    period: Period
    cases_referred: int
    by_state: dict[str, int]
    by_outcome: dict[str, int]
    by_decline_reason: dict[str, int]
    by_source: dict[str, int]
    referral_to_conclusion: Durations
    wellbeing_checks: WellbeingChecks
    concerns: Concerns
    rep_hours: RepHours
    reoffending: Reoffending
    feedback: FeedbackSummary
    definitions: dict[str, str] = Field(description="What each figure counts, by its name in this report.")


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
