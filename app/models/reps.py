"""The register of RJ reps: trained prisoners who support the work."""

import uuid
from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Rep(SQLModel, table=True):
    """One rep, with status, prison, wing location and case limit."""

    __tablename__ = "rep"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    prisoner_number: str = Field(max_length=7, index=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    prison_id: str = Field(max_length=3, index=True)
    location: str | None = Field(default=None, max_length=100)
    status: str = Field(default="active", max_length=20)
    trained_on: date | None = None
    max_active_cases: int = 5
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Supervision(SQLModel, table=True):
    """One supervision session of a rep: when, by whom, and when the next is due."""

    __tablename__ = "rep_supervision"
    __table_args__ = (Index("ix_rep_supervision_rep_on", "rep_id", "on"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    rep_id: uuid.UUID = Field(foreign_key="rep.id")
    on: date
    supervisor: str = Field(max_length=200)
    supervisor_id: uuid.UUID | None = None
    notes: str | None = None
    next_due_on: date
    recorded_at: datetime = Field(sa_type=UTCDateTime)
