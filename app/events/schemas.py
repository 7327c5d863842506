"""Shapes of the events feed and of the domain events other prison systems send us."""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from app.common.schemas import ApiModel, ForeignModel, StrictInt, Timestamp


class InboundStatus(StrEnum):
    PROCESSING = "processing"
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"
    REJECTED = "rejected"


class Identifier(ForeignModel):
    type: Annotated[str, StringConstraints(max_length=60)]
    value: Annotated[str, StringConstraints(max_length=200)]


class PersonReference(ForeignModel):
    identifiers: list[Identifier] = Field(default_factory=list, max_length=50)


class DomainEvent(ForeignModel):
    """The prison domain-event envelope (`hmpps-domain-event.schema.json`); other members are kept."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="When sent, the event is processed once per eventId; else once per body"
    )
    event_type: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    # The prison systems read the version as a 32-bit integer (Kotlin's Int).
    version: StrictInt = Field(ge=-(2**31), le=2**31 - 1)
    occurred_at: Timestamp
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    detail_url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    additional_information: dict[str, Any] = Field(default_factory=dict)
    person_reference: PersonReference | None = None

    def noms_number(self) -> str | None:
        """The prisoner the event is about: `additionalInformation.nomsNumber`, else the NOMS identifier."""
        number = self.additional_information.get("nomsNumber")
        if isinstance(number, str) and number:
            return number.strip()
        for identifier in self.person_reference.identifiers if self.person_reference else []:
            if identifier.type == "NOMS":
                return identifier.value.strip()
        return None


class InboundEventPublic(ApiModel):
    """A received event and what became of it."""

    id: uuid.UUID
    event_id: str | None
    event_type: str
    prison_id: str | None = Field(description="The prison the event is about, when it names one")
    status: InboundStatus
    attempts: int
    error: str | None
    case_ids: list[uuid.UUID]
    received_at: datetime
    processed_at: datetime | None
    next_attempt_at: datetime | None


class FeedItem(ApiModel):
    """One outbound event: its cursor, then the prison domain-event envelope."""

    cursor: int
    event_id: uuid.UUID
    event_type: str
    version: int
    occurred_at: str
    description: str
    detail_url: str | None = None
    additional_information: dict[str, Any]
    person_reference: dict[str, Any]


class FeedPage(ApiModel):
    """Events after the cursor asked for, in order; poll again with `after=nextCursor`."""

    content: list[FeedItem]
    next_cursor: int
