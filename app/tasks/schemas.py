"""Shapes of tasks."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from app.common.enums import AssigneeType, ConcernCategory, TaskKind, TaskStatus
from app.common.schemas import ApiModel, PrisonId, RequestModel, StrictInt, Timestamp

Reason = Annotated[str, StringConstraints(min_length=1, max_length=1000)]


class AssigneeRef(ApiModel):
    type: AssigneeType
    id: uuid.UUID | None


class AssigneeIn(RequestModel):
    type: AssigneeType
    id: uuid.UUID | None = Field(
        default=None, description="A rep's id, or a practitioner's client id (none: whoever is on duty)."
    )


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
    cancel_reason: str | None = Field(
        default=None, description="Why the task will not be done (not shown to reps)."
    )
    cancelled_at: datetime | None = None


class ConcernFound(RequestModel):
    category: ConcernCategory
    detail: Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class TaskComplete(RequestModel):
    outcome: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    notes: Annotated[str, StringConstraints(max_length=5000)] | None = None
    duration_minutes: StrictInt = Field(ge=0, le=24 * 60)
    concern: ConcernFound | None = Field(
        default=None,
        description="A concern found while doing the task (e.g. at a wellbeing check): opens a "
        "safeguarding concern about the task's party at once, with its event and a check within 4 hours.",
    )


class TaskCreate(RequestModel):
    case_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="The case's id or reference."
    )
    prison_id: PrisonId | None = Field(default=None, description="Required for a task outside any case.")
    kind: TaskKind
    due_at: Timestamp
    assignee: AssigneeIn
    party_id: uuid.UUID | None = None
    instructions: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class TaskReassign(RequestModel):
    assignee: AssigneeIn
    reason: Reason


class TaskReschedule(RequestModel):
    due_at: Timestamp
    reason: Reason


class TaskCancel(RequestModel):
    reason: Reason
