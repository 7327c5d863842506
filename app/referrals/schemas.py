"""What a referral looks like on the way in."""

from typing import Annotated

from pydantic import Field, StringConstraints

from app.cases.schemas import LongText, PartyCreate, PrisonId, ShortText
from app.common.enums import Category
from app.common.schemas import RequestModel, Timestamp


class SourceRef(RequestModel):
    system: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    reference: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Incident(RequestModel):
    occurred_at: Timestamp
    location_key: Annotated[str, StringConstraints(max_length=100)] | None = None
    category: Category
    description: LongText


class ReferralCreate(RequestModel):
    prison_id: PrisonId
    source: SourceRef
    incident: Incident
    parties: list[PartyCreate] = Field(min_length=1, max_length=20)
    referred_by: ShortText
