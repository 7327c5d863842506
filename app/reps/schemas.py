"""Request and response shapes of the reps register."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.common.enums import RepStatus, TaskKind
from app.common.schemas import ApiModel, Day, Name, PrisonerNumber, PrisonId, RequestModel, StrictInt

Location = Annotated[str, StringConstraints(max_length=100)]


class RepCreate(RequestModel):
    prisoner_number: PrisonerNumber
    first_name: Name
    last_name: Name
    prison_id: PrisonId
    location: Location | None = None
    status: RepStatus = RepStatus.IN_TRAINING
    trained_on: Day | None = None
    max_active_cases: StrictInt = Field(default=3, ge=0, le=50)


class RepPatch(RequestModel):
    min_fields = 1
    # Every rep has a status, a prison and a case limit.
    never_null = ("status", "prison_id", "max_active_cases")

    status: RepStatus | None = None
    prison_id: PrisonId | None = None
    location: Location | None = None
    max_active_cases: StrictInt | None = Field(default=None, ge=0, le=50)
    trained_on: Day | None = None


class SupervisionSummary(ApiModel):
    last_on: date | None
    next_due_on: date = Field(
        description="From the last session; with none, 84 days after the rep was trained (or registered)."
    )
    overdue: bool


class RepPublic(ApiModel):
    id: uuid.UUID
    prisoner_number: str
    first_name: str
    last_name: str
    prison_id: str
    location: str | None
    status: RepStatus
    trained_on: date | None
    max_active_cases: int
    created_at: datetime
    updated_at: datetime
    supervision: SupervisionSummary | None = Field(
        default=None, description="Where the rep's supervision stands; shown to staff."
    )


class DailyTask(ApiModel):
    id: uuid.UUID
    case_id: uuid.UUID | None
    case_reference: str | None
    kind: TaskKind
    due_at: datetime
    overdue: bool
    what: str = Field(description="What to do.")
    whom: str | None = Field(description="Whom to see, by name.")
    where: str | None = Field(description="Where to find them (their location in the prison).")


class DailyList(ApiModel):
    rep_id: uuid.UUID
    rep_name: str
    prison_id: str
    date: date
    timezone: str
    generated_at: datetime
    tasks: list[DailyTask] = Field(
        description="Open tasks due that day or overdue: overdue first, then safeguarding checks, "
        "then wellbeing checks, then by due time."
    )


class ActivityItem(ApiModel):
    date: date
    activity: str
    source: Literal["contact", "task"]
    minutes: int


class ActivityTotal(ApiModel):
    activity: str
    count: int
    minutes: int


class RepActivity(ApiModel):
    """A rep's volunteer hours: no party, case or note is named."""

    rep_id: uuid.UUID
    rep_name: str
    from_: date = Field(alias="from")
    to: date
    total_minutes: int
    total_hours: float
    by_activity: list[ActivityTotal]
    items: list[ActivityItem]


class SupervisionCreate(RequestModel):
    on: Day = Field(description="The day of the session; not in the future.")
    supervisor: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="Who supervised, as the rep knows them. The service records the caller too."
    )
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    next_due_on: Day | None = Field(
        default=None,
        description="When the next is due: 84 days after `on` unless sooner (never later).",
    )


class SupervisionRecord(ApiModel):
    id: uuid.UUID
    on: date
    supervisor: str
    notes: str | None
    next_due_on: date
    recorded_at: datetime


class Supervisions(ApiModel):
    """A rep's supervision: where it stands, and every session, oldest first."""

    last_on: date | None
    next_due_on: date
    overdue: bool
    records: list[SupervisionRecord]
