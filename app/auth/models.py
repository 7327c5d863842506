"""API clients: who may call the service, with which role and caseload."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class ApiClient(SQLModel, table=True):
    """A bearer key holder. Only a SHA-256 hash of the key is stored."""

    __tablename__ = "api_client"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    prisons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    all_prisons: bool = False
    rep_id: uuid.UUID | None = Field(default=None, foreign_key="rep.id")
    key_hash: str = Field(max_length=64, unique=True, index=True)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
