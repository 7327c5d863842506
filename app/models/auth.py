"""API clients: who may call the service, with which role and caseload."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class ApiClient(SQLModel, table=True):
    """A bearer key holder. Only a SHA-256 hash of the key is stored.

    A rotated client keeps its previous key's hash until `previous_key_expires_at`, so that its
    callers can move to the new key; a revoked client (`active` false) has no working key.
    """

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
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    previous_key_hash: str | None = Field(default=None, max_length=64, unique=True, index=True)
    previous_key_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiClientGeneration(SQLModel, table=True):
    """One row counting the changes that take keys away (revocations, rotations): every process
    that remembers keys compares it on each request, so such a change is seen at once everywhere."""

    __tablename__ = "api_client_generation"

    id: int = Field(default=1, primary_key=True)
    value: int = Field(default=0, sa_type=BigInteger)


class SignedInPractitioner(SQLModel, table=True):
    """A practitioner known through the prisons' identity provider: recorded when they call the
    service, so that they can be named on a case and listed as API-key practitioners are. Their
    id is the one their requests carry (`app.auth.jwt.client_id_of`)."""

    __tablename__ = "signed_in_practitioner"

    id: uuid.UUID = Field(primary_key=True)
    username: str = Field(max_length=200)
    name: str = Field(max_length=200)
    prisons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    all_prisons: bool = False
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
