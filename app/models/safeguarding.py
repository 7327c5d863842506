"""Safeguarding concerns: someone may be at risk and staff must be told."""

import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class SafeguardingConcern(SQLModel, table=True):
    """A concern about a prisoner, open until staff acknowledge it."""

    __tablename__ = "safeguarding_concern"
    __table_args__ = (
        Index("ix_concern_prison_raised", "prison_id", "raised_at"),
        Index("ix_concern_overdue", "status", "overdue_notified", "raised_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    prisoner_number: str = Field(max_length=7, index=True)
    prison_id: str = Field(max_length=3)
    case_id: uuid.UUID | None = Field(default=None, foreign_key="rj_case.id", index=True)
    category: str = Field(max_length=20)
    detail: str
    status: str = Field(default="open", max_length=20, index=True)
    raised_by_client_id: uuid.UUID | None = None
    raised_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    external_reference: str | None = None
    overdue_notified: bool = False
    # The urgent task for the practitioner and the wellbeing check the concern created.
    task_id: uuid.UUID | None = Field(default=None, foreign_key="task.id")
    check_task_id: uuid.UUID | None = Field(default=None, foreign_key="task.id")


class DutyPractitioner(SQLModel, table=True):
    """The practitioner on duty in a prison: receives concerns that have no case practitioner."""

    __tablename__ = "duty_practitioner"

    prison_id: str = Field(max_length=3, primary_key=True)
    practitioner_id: uuid.UUID = Field(foreign_key="api_client.id")
    set_by_client_id: uuid.UUID | None = None
    set_at: datetime = Field(sa_type=UTCDateTime)
