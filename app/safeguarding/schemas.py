"""Shapes of safeguarding concerns and the duty practitioner."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import StringConstraints

from app.common.enums import ConcernCategory, ConcernStatus
from app.common.schemas import ApiModel, PrisonerNumber, PrisonId, RequestModel, ShortText

Detail = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class ConcernCreate(RequestModel):
    prisoner_number: PrisonerNumber
    case_id: Annotated[str, StringConstraints(min_length=1, max_length=40)] | None = None
    prison_id: PrisonId | None = None
    category: ConcernCategory
    detail: Detail


class ConcernAcknowledge(RequestModel):
    acknowledged_by: ShortText
    external_reference: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None


class ConcernReceipt(ApiModel):
    """The narrow view: that the concern was recorded and where it stands, not what it says."""

    view: Literal["narrow"] = "narrow"
    id: uuid.UUID
    case_id: uuid.UUID | None
    category: ConcernCategory
    status: ConcernStatus
    raised_at: datetime
    acknowledged_at: datetime | None


class ConcernDetail(ApiModel):
    """The whole concern, for practitioners, managers and admins."""

    view: Literal["full"] = "full"
    id: uuid.UUID
    prisoner_number: str
    prison_id: str
    case_id: uuid.UUID | None
    case_reference: str | None
    category: ConcernCategory
    detail: str
    status: ConcernStatus
    raised_at: datetime
    raised_by_client_id: uuid.UUID | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    external_reference: str | None
    overdue: bool
    task_id: uuid.UUID | None
    check_task_id: uuid.UUID | None


ConcernView = ConcernDetail | ConcernReceipt


class DutyPractitionerSet(RequestModel):
    practitioner_id: uuid.UUID | None


class DutyPractitionerPublic(ApiModel):
    prison_id: str
    practitioner_id: uuid.UUID | None
    set_at: datetime | None
