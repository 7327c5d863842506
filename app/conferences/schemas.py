"""Shapes of conferences and outcome agreements."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.common.enums import AgreementStatus
from app.common.schemas import ApiModel, Day, RequestModel, ShortText, StrictBool

Description = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class AgreementItemCreate(RequestModel):
    description: Description
    owner_party_id: uuid.UUID
    due_on: Day


class ConferenceOutcome(RequestModel):
    held: StrictBool
    attendees: list[ShortText] = Field(default_factory=list, max_length=30, description="Who attended.")
    agreement: list[AgreementItemCreate] = Field(default_factory=list, max_length=30)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class AgreementItemPatch(RequestModel):
    status: Literal["kept", "broken"]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AgreementItemPublic(ApiModel):
    id: uuid.UUID
    description: str
    owner_party_id: uuid.UUID
    due_on: date
    status: AgreementStatus
    status_note: str | None
    status_changed_at: datetime | None


class KeepApartDecision(ApiModel):
    override_reason: str | None
    checked_by_hand: bool


class ConferencePublic(ApiModel):
    id: uuid.UUID
    case_id: uuid.UUID
    scheduled_at: datetime
    location: str
    facilitator_id: uuid.UUID
    supporting_rep_ids: list[uuid.UUID]
    attendees: list[str] = Field(description="Who is expected to attend.")
    held: bool | None
    attended_by: list[str]
    outcome_recorded_at: datetime | None
    keep_apart: KeepApartDecision | None = Field(default=None, description="Not shown to reps.")
    agreement: list[AgreementItemPublic]
