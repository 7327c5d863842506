"""The outbox: events written in the same transaction as the change they report."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Identity, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, new_id


class OutboxEvent(SQLModel, table=True):
    """One outbound prison domain event.

    `position` is taken when the row is written; `feed_seq` when it is published, by one
    publisher at a time and only once the row is committed, so the feed (`cursor` =
    `feed_seq`) never shows a later event before an earlier one it could still miss.
    """

    __tablename__ = "outbox_event"
    __table_args__ = (
        Index(
            "ix_outbox_event_unpublished",
            "position",
            postgresql_where=text("feed_seq IS NULL"),
            sqlite_where=text("feed_seq IS NULL"),
        ),
        Index("uq_outbox_event_feed_seq", "feed_seq", unique=True),
    )

    position: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            Identity(always=False),
            primary_key=True,
        ),
    )
    event_id: uuid.UUID = Field(default_factory=new_id, unique=True)
    event_type: str = Field(max_length=100, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    prison_id: str | None = Field(default=None, max_length=3)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)
    feed_seq: int | None = Field(default=None, sa_type=BigInteger)


class EventFeedHead(SQLModel, table=True):
    """The last feed sequence number given out; its row lock makes publishing one at a time."""

    __tablename__ = "event_feed_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = Field(default=0, sa_type=BigInteger)


class InboundEvent(SQLModel, table=True):
    """A prison domain event received, what became of it, and what is left to retry."""

    __tablename__ = "inbound_event"
    __table_args__ = (
        Index("ix_inbound_event_retry", "status", "next_attempt_at"),
        # One sender's event once: the same id from another sender is another event.
        UniqueConstraint("sender_client_id", "dedupe_key", name="uq_inbound_event_sender_dedupe"),
        Index("ix_inbound_event_prison", "prison_id", "received_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    dedupe_key: str = Field(max_length=220)
    event_id: str | None = Field(default=None, max_length=200)
    event_type: str = Field(max_length=200, index=True)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sender_client_id: uuid.UUID | None = None
    # The prison the event is about (`app.flows.inbound_events.event_prison`), when it names one: who
    # may see the event among admins. None: for admins of every prison only.
    prison_id: str | None = Field(default=None, max_length=3)
    status: str = Field(max_length=20)
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    case_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
