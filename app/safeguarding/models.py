"""Safeguarding concerns: someone may be at risk and staff must be told."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class SafeguardingConcern(SQLModel, table=True):
    """A concern about a prisoner, open until staff acknowledge it."""

    __tablename__ = "safeguarding_concern"

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
