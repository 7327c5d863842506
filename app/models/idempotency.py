"""Idempotency keys: the first response to a creating request, kept to replay it."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class IdempotencyKey(SQLModel, table=True):
    """One client's key: in progress (with an expiring lock), committed, then done with its response."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_idempotency_client_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    client_id: uuid.UUID
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    status: str = Field(max_length=20)
    # Which run of the request owns the key; a run that lost it (lock expired) must not commit.
    owner: uuid.UUID
    locked_until: datetime = Field(sa_type=UTCDateTime)
    response_status: int | None = None
    response_headers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
