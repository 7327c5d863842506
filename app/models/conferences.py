"""Face-to-face conferences and what was agreed at them."""

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, Column, false
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Conference(SQLModel, table=True):
    """The one conference of a case: its arrangements and whether it was held."""

    __tablename__ = "conference"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", unique=True)
    scheduled_at: datetime = Field(sa_type=UTCDateTime)
    location: str = Field(max_length=200)
    facilitator_id: uuid.UUID
    supporting_rep_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keep_apart_override_reason: str | None = None
    keep_apart_checked_by_hand: bool = False
    expected_attendees: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    held: bool | None = None
    attendees: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The parties who attended, as the outcome names them (strings of their ids).
    attended_party_ids: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    outcome_recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Agreement(SQLModel, table=True):
    """An agreement the parties reached: at a conference, or carried by shuttle or letters; who
    agreed to it and how. Its commitments are its items."""

    __tablename__ = "agreement"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    conference_id: uuid.UUID | None = Field(default=None, foreign_key="conference.id")
    # The state the case was in when it was reached: conference, shuttle_mediation, letter_exchange.
    made_in: str = Field(max_length=20)
    # [{"partyId": ..., "method": "in_person" | "written"}]
    agreed_by: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)


class AgreementItem(SQLModel, table=True):
    """One commitment of an outcome agreement: what, by whom, by when; then kept or broken."""

    __tablename__ = "agreement_item"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    conference_id: uuid.UUID | None = Field(default=None, foreign_key="conference.id")
    agreement_id: uuid.UUID | None = Field(default=None, foreign_key="agreement.id")
    position: int
    description: str
    owner_party_id: uuid.UUID = Field(foreign_key="party.id")
    due_on: date
    status: str = Field(default="pending", max_length=10)
    status_note: str | None = None
    status_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set once the item's due date has passed while it was pending and that was announced.
    overdue_notified: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_at: datetime = Field(sa_type=UTCDateTime)
