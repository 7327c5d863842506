"""Shapes of letters."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.common.enums import LetterStatus
from app.common.schemas import ApiModel, RequestModel, StrictInt

LetterBody = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]
Comments = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class LetterCreate(RequestModel):
    author_party_id: uuid.UUID
    recipient_party_id: uuid.UUID
    body: LetterBody
    in_reply_to: uuid.UUID | None = Field(default=None, description="The delivered letter this one answers.")


class LetterEdit(RequestModel):
    body: LetterBody


class LetterReturn(RequestModel):
    comments: Comments = Field(description="What the author should change before it can be approved.")


class LetterDeliver(RequestModel):
    duration_minutes: StrictInt = Field(default=0, ge=0, le=12 * 60)
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None


class LetterPublic(ApiModel):
    id: uuid.UUID
    case_id: uuid.UUID
    status: LetterStatus
    author_party_id: uuid.UUID
    recipient_party_id: uuid.UUID
    in_reply_to: uuid.UUID | None
    replies: list[uuid.UUID] = Field(description="Letters written in answer to this one.")
    body: str
    practitioner_comments: str | None = Field(default=None, description="Not shown to reps.")
    approved_at: datetime | None
    delivered_at: datetime | None
    delivered_by_rep_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
