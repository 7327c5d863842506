"""Request and response shapes of webhook subscriptions and deliveries."""

import base64
import binascii
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, UrlConstraints, field_validator

from app.common.schemas import ApiModel, RequestModel
from app.events.service import OUTBOUND_TYPES

EventType = Literal[OUTBOUND_TYPES]  # type: ignore[valid-type]
WebhookUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker of Standard Webhooks secrets, not a secret


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


_B64 = "[A-Za-z0-9+/]"
# `whsec_` and the base64 of 24 to 64 bytes: 8 to 20 groups of four characters with an optional
# padded end (24 to 62 bytes), or 21 groups (63 bytes) with an optional one-byte end.
_TAIL = f"(?:{_B64}{{2}}==|{_B64}{{3}}=)"
SECRET_PATTERN = f"^whsec_(?:(?:{_B64}{{4}}){{8,20}}{_TAIL}?|(?:{_B64}{{4}}){{21}}(?:{_B64}{{2}}==)?)$"


class SubscriptionCreate(RequestModel):
    url: WebhookUrl
    event_types: list[EventType] = Field(min_length=1, max_length=len(OUTBOUND_TYPES))
    secret: str = Field(
        description="A Standard Webhooks secret: `whsec_` and 24 to 64 random bytes in base64, e.g. "
        "from `python -c \"import base64,os; print('whsec_'+base64.b64encode(os.urandom(32)).decode())\"`.",
        max_length=200,
        pattern=SECRET_PATTERN,
    )

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, value: str) -> str:
        if not value.startswith(SECRET_PREFIX):
            raise ValueError("the secret must start with whsec_")
        try:
            raw = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            raise ValueError("after whsec_ the secret must be base64") from None
        if not 24 <= len(raw) <= 64:
            raise ValueError("the secret must hold 24 to 64 bytes")
        return value


class SubscriptionPublic(ApiModel):
    """A subscription; its secret is never shown again. It receives the events of its prisons:
    every prison (`allPrisons`), or those in `prisons` (its creator's caseload when made)."""

    id: uuid.UUID
    url: str
    event_types: list[str]
    all_prisons: bool
    prisons: list[str]
    active: bool
    created_at: datetime
    deleted_at: datetime | None


class DeliveryPublic(ApiModel):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
