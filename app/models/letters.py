"""Letters between parties, read by a practitioner before a rep delivers them."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Letter(SQLModel, table=True):
    """One letter and where it is on its way from author to recipient."""

    __tablename__ = "letter"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id", index=True)
    author_party_id: uuid.UUID = Field(foreign_key="party.id")
    recipient_party_id: uuid.UUID = Field(foreign_key="party.id")
    in_reply_to: uuid.UUID | None = Field(default=None, foreign_key="letter.id")
    body: str
    status: str = Field(default="draft", max_length=20)
    practitioner_comments: str | None = None
    approved_by: uuid.UUID | None = None
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    delivered_by_rep_id: uuid.UUID | None = None
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
