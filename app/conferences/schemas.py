"""Shapes of conferences and outcome agreements."""

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from app.common.enums import AgreementMethod, AgreementStatus
from app.common.schemas import ApiModel, Day, RequestModel, ShortText, StrictBool

Description = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
# The stage an agreement was reached in.
MadeIn = Literal["conference", "shuttle_mediation", "letter_exchange"]


class AgreementItemCreate(RequestModel):
    description: Description
    owner_party_id: uuid.UUID
    due_on: Day


class AgreedBy(RequestModel):
    party_id: uuid.UUID
    method: AgreementMethod = Field(description="How the party agreed: in person or in writing.")


AgreedByList = Annotated[
    list[AgreedBy],
    Field(
        default_factory=list,
        max_length=30,
        description="Who agreed to the agreement, and how. The agreement stands only when every "
        "party taking part who attended (outside a conference: every party taking part) agreed; "
        "supporters are not asked.",
    ),
]


class ConferenceOutcome(RequestModel):
    held: StrictBool
    attendees: list[ShortText] = Field(default_factory=list, max_length=30, description="Who attended.")
    attended_party_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=30,
        description="The parties who attended; required when `agreement` is not empty.",
    )
    agreement: list[AgreementItemCreate] = Field(default_factory=list, max_length=30)
    agreed_by: AgreedByList
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class AgreementCreate(RequestModel):
    """An agreement reached by shuttle mediation or letters."""

    items: list[AgreementItemCreate] = Field(min_length=1, max_length=30)
    agreed_by: AgreedByList


class AgreementItemPatch(RequestModel):
    status: Literal["kept", "broken"]
    note: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AgreedByPublic(ApiModel):
    party_id: uuid.UUID
    method: AgreementMethod


class AgreementItemPublic(ApiModel):
    id: uuid.UUID
    agreement_id: uuid.UUID | None
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
    attended_party_ids: list[uuid.UUID]
    agreement: list[AgreementItemPublic]
    agreed_by: list[AgreedByPublic]


class AgreementPublic(ApiModel):
    """An agreement and its items; `madeIn` is the stage it was reached in."""

    id: uuid.UUID
    case_id: uuid.UUID
    made_in: MadeIn
    conference_id: uuid.UUID | None
    agreed_by: list[AgreedByPublic]
    items: list[AgreementItemPublic]
    recorded_at: datetime
