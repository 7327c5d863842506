"""Shapes of case notes."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.common.enums import NoteKind, Role
from app.common.schemas import ApiModel, RequestModel, StrictBool

NoteText = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class NoteCreate(RequestModel):
    text: NoteText
    for_reps: StrictBool | None = Field(
        default=None,
        description="Shown to the case's reps too (default false). A correction takes the choice "
        "of the note it corrects: sent with `corrects`, it must agree.",
    )
    corrects: uuid.UUID | None = Field(
        default=None, description="The note on the same case this one corrects; that note stays."
    )


class NotePublic(ApiModel):
    id: uuid.UUID
    kind: NoteKind
    text: str
    for_reps: bool
    corrects: uuid.UUID | None
    corrected_by: list[uuid.UUID] = Field(description="Later notes that correct this one.")
    written_by: str
    written_by_role: Role
    written_at: datetime
