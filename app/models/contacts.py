"""Contacts: every visit a rep or practitioner makes to a party, and what happened."""

import uuid
from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Contact(SQLModel, table=True):
    """One meeting with one party: assessment, shuttle round, support or wellbeing visit."""

    __tablename__ = "contact"
    __table_args__ = (
        # Shuttle rounds are numbered per case; other kinds carry no round (NULLs do not clash).
        UniqueConstraint("case_id", "shuttle_round", name="uq_contact_case_round"),
        Index("ix_contact_case_occurred", "case_id", "occurred_at"),
        Index("ix_contact_rep_occurred", "rep_id", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id")
    party_id: uuid.UUID = Field(foreign_key="party.id")
    rep_id: uuid.UUID | None = Field(default=None, foreign_key="rep.id")
    recorded_by_client_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = Field(default=None, foreign_key="task.id")
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int
    summary: str
    shuttle_round: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Voided: recorded in error. Kept, and shown as voided; it no longer counts as work done.
    voided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    void_reason: str | None = None
    voided_by: str | None = Field(default=None, max_length=200)
