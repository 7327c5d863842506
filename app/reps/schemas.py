"""Request and response shapes of the reps register."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.cases.schemas import Name, PrisonerNumber, PrisonId
from app.common.enums import RepStatus
from app.common.schemas import ApiModel, Day, RequestModel, StrictInt

Location = Annotated[str, StringConstraints(max_length=100)]


class RepCreate(RequestModel):
    prisoner_number: PrisonerNumber
    first_name: Name
    last_name: Name
    prison_id: PrisonId
    location: Location | None = None
    status: RepStatus = RepStatus.IN_TRAINING
    trained_on: Day | None = None
    max_active_cases: StrictInt = Field(default=3, ge=0, le=50)


class RepPatch(RequestModel):
    status: RepStatus | None = None
    prison_id: PrisonId | None = None
    location: Location | None = None
    max_active_cases: StrictInt | None = Field(default=None, ge=0, le=50)
    trained_on: Day | None = None


class RepPublic(ApiModel):
    id: uuid.UUID
    prisoner_number: str
    first_name: str
    last_name: str
    prison_id: str
    location: str | None
    status: RepStatus
    trained_on: date | None
    max_active_cases: int
    created_at: datetime
    updated_at: datetime
