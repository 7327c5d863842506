"""Case notes: what a practitioner writes down about a case, never edited or deleted."""

import uuid
from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class Note(SQLModel, table=True):
    """One note on a case. A correction is a new note naming the one it corrects."""

    __tablename__ = "case_note"
    __table_args__ = (Index("ix_case_note_case_written", "case_id", "written_at"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="rj_case.id")
    kind: str = Field(max_length=20)
    text: str
    for_reps: bool = False
    corrects_id: uuid.UUID | None = Field(default=None, foreign_key="case_note.id")
    written_by: str = Field(max_length=200)
    written_by_client_id: uuid.UUID | None = None
    written_by_role: str = Field(max_length=20)
    written_at: datetime = Field(sa_type=UTCDateTime)
