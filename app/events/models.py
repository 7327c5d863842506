"""The outbox: events written in the same transaction as the change they report."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Identity, Integer
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class OutboxEvent(SQLModel, table=True):
    """One outbound prison domain event; `position` is the feed cursor."""

    __tablename__ = "outbox_event"

    position: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            Identity(always=False),
            primary_key=True,
        ),
    )
    event_id: uuid.UUID = Field(default_factory=new_id, unique=True)
    event_type: str = Field(max_length=100, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    prison_id: str | None = Field(default=None, max_length=3)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
