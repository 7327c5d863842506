"""Webhook subscriptions and the delivery of each outbound event to each of them."""

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class WebhookSubscription(SQLModel, table=True):
    """Where to send which event types, and the secret to sign them with.

    A subscription belongs to its creator's caseload as it was when made: every prison
    (`all_prisons`), or the prisons in `WebhookSubscriptionPrison`. Only events of those prisons
    are delivered to it, and only callers whose caseload covers them manage it.
    """

    __tablename__ = "webhook_subscription"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # Needed in clear to sign; never returned by the API nor written to the audit trail.
    secret: str = Field(max_length=200)
    active: bool = True
    all_prisons: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_by_client_id: uuid.UUID | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookSubscriptionPrison(SQLModel, table=True):
    """One prison whose events a subscription (not of every prison) receives."""

    __tablename__ = "webhook_subscription_prison"

    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id", primary_key=True)
    prison_id: str = Field(max_length=3, primary_key=True)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: pending until delivered, or dead after too many tries.

    A timed-work runner claims a row by setting `claimed_until` (a lease); a runner that dies
    leaves the lease to run out, after which another runner delivers the event again.
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_delivery_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_subscription", "subscription_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscription.id")
    event_id: uuid.UUID
    event_type: str = Field(max_length=100)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=100)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
