"""Shapes of contacts."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.common.enums import ContactKind
from app.common.schemas import ApiModel, RequestModel, StrictInt, Timestamp

Summary = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class ContactCreate(RequestModel):
    kind: ContactKind
    party_id: uuid.UUID
    rep_id: uuid.UUID | None = Field(
        default=None, description="The rep who made the contact; a rep recording it: themself (the default)."
    )
    occurred_at: Timestamp
    duration_minutes: StrictInt = Field(ge=1, le=12 * 60)
    summary: Summary


class ContactVoid(RequestModel):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class Voided(ApiModel):
    at: datetime
    reason: str
    by: str


class ContactPublic(ApiModel):
    id: uuid.UUID
    case_id: uuid.UUID
    kind: ContactKind
    party_id: uuid.UUID
    party_name: str
    rep_id: uuid.UUID | None
    occurred_at: datetime
    duration_minutes: int
    summary: str | None = Field(description="What happened; a rep reads only their own contacts' notes.")
    shuttle_round: int | None = Field(
        description="Shuttle contacts are numbered 1, 2, 3... per case in the order they are recorded."
    )
    task_id: uuid.UUID | None
    recorded_at: datetime
    voided: Voided | None = Field(
        default=None, description="Set when the contact was recorded in error: kept, but no longer counted."
    )
