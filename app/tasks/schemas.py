"""Shapes of tasks."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.common.enums import AssigneeType, TaskKind, TaskStatus
from app.common.schemas import ApiModel, RequestModel, StrictInt


class AssigneeRef(ApiModel):
    type: AssigneeType
    id: uuid.UUID | None


class TaskParty(ApiModel):
    name: str
    location: str | None


class TaskPublic(ApiModel):
    id: uuid.UUID
    case_id: uuid.UUID | None
    case_reference: str | None
    kind: TaskKind
    due_at: datetime
    status: TaskStatus
    assignee: AssigneeRef
    party: TaskParty | None
    instructions: str
    outcome: str | None = None
    completed_at: datetime | None = None


class TaskComplete(RequestModel):
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    duration_minutes: StrictInt = Field(ge=0, le=24 * 60)
