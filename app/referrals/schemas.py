"""What a referral looks like on the way in."""

from typing import Annotated

from pydantic import Field, StringConstraints

from app.cases.schemas import PartyCreate
from app.common.enums import Category
from app.common.schemas import (
    ApiModel,
    ForeignModel,
    ForeignTime,
    LongText,
    Name,
    PrisonerNumber,
    PrisonId,
    RequestModel,
    ShortText,
    Timestamp,
)


class SourceRef(RequestModel):
    system: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Incident(RequestModel):
    occurred_at: Timestamp
    location_key: Annotated[str, StringConstraints(max_length=100)] | None = None
    category: Category
    description: LongText


class ReferralCreate(RequestModel):
    prison_id: PrisonId
    source: SourceRef
    incident: Incident
    parties: list[PartyCreate] = Field(min_length=1, max_length=20)
    referred_by: ShortText


class PrisonerInvolved(ForeignModel):
    prisoner_number: PrisonerNumber
    first_name: Name
    last_name: Name
    prisoner_role: Annotated[str, StringConstraints(min_length=1, max_length=60)]


class IncidentReport(ForeignModel):
    """An incident report as the prison incident-reporting system returns it (with details)."""

    report_reference: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=60)]
    location: PrisonId
    incident_date_and_time: ForeignTime = Field(
        description="As the incident system gives it: local time in England and Wales when it has no offset"
    )
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    description: LongText
    reported_by: Annotated[str, StringConstraints(max_length=200)] | None = None
    prisoners_involved: list[PrisonerInvolved] = Field(default_factory=list, max_length=100)


class IncidentRecorded(ApiModel):
    """An incident report kept for the outcomes report, not made a referral."""

    report_reference: str
    location: str
    referred: bool = False
    prisoners_recorded: int
    reason: str
