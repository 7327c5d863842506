"""Prison incidents the service was told about, per prisoner involved, and prisoners' movements:
the facts the outcomes report counts."""

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class IncidentRecord(SQLModel, table=True):
    """One prisoner's involvement in one incident report, whether or not it became a case.

    For a prisoner who is not a party of the case the report became, only what the outcomes
    report needs is kept: when, where, the type family and their part (no type, no case)."""

    __tablename__ = "incident_record"
    __table_args__ = (
        UniqueConstraint("report_key", "prisoner_number", name="uq_incident_record_report_prisoner"),
        # The outcomes report reads a prisoner's incidents between two times.
        Index("ix_incident_record_prisoner_occurred", "prisoner_number", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    # The report's key in this service: `<location>-<reportReference>`, as a case's source reference.
    report_key: str = Field(max_length=80)
    prisoner_number: str = Field(max_length=7)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    prison_id: str = Field(max_length=3)
    family: str = Field(max_length=30)
    part: str = Field(max_length=20)
    # Kept only for the parties of the case the report became.
    incident_type: str | None = Field(default=None, max_length=60)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)


class PrisonerMovement(SQLModel, table=True):
    """A prisoner leaving custody in a reporting prison (released, transferred) or arriving in one,
    as a prison event told the service."""

    __tablename__ = "prisoner_movement"
    __table_args__ = (
        UniqueConstraint("inbound_event_id", "prisoner_number", name="uq_prisoner_movement_event"),
        Index("ix_prisoner_movement_prisoner_at", "prisoner_number", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    prisoner_number: str = Field(max_length=7)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    direction: str = Field(max_length=3)
    reason: str | None = Field(default=None, max_length=60)
    prison_id: str | None = Field(default=None, max_length=3)
    inbound_event_id: uuid.UUID | None = None
    received_at: datetime = Field(sa_type=UTCDateTime)
