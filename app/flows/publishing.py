"""Publishing the outbox as a feed in order, and fanning each event out to webhook subscriptions.

An outbox row gets its `position` when it is written, but transactions commit in any order, so
a reader going by `position` could pass over an event that commits late. Publishing gives each
committed event its feed cursor (`feed_seq`) one publisher at a time, under the feed head's row
lock: an event published later always gets a higher cursor, so `after=<cursor>` never misses one.
Publishing also queues the event's webhook deliveries, in the same transaction: to each active
subscription of its type whose prisons include the event's (`app.auth.access.delivers`).
"""

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.auth.access import delivers
from app.db import dialect_insert, new_id
from app.models.events import EventFeedHead, OutboxEvent
from app.models.webhooks import WebhookDelivery, WebhookSubscription, WebhookSubscriptionPrison

PENDING = "pending"


async def publish(session: AsyncSession, *, limit: int = 1000, wait: bool = True) -> int:
    """Publish up to `limit` committed events; with `wait=False`, give up if another is publishing."""
    unpublished = select(col(OutboxEvent.position)).where(col(OutboxEvent.feed_seq).is_(None)).limit(1)
    if (await session.execute(unpublished)).first() is None:
        return 0  # the usual case for a poll: nothing to do, and no lock taken
    head = await _lock_head(session, wait=wait)
    if head is None:
        return 0
    rows = (
        await session.execute(
            select(
                col(OutboxEvent.position),
                col(OutboxEvent.event_id),
                col(OutboxEvent.event_type),
                col(OutboxEvent.prison_id),
            )
            .where(col(OutboxEvent.feed_seq).is_(None))
            .order_by(col(OutboxEvent.position))
            .limit(limit)
        )
    ).all()
    if not rows:
        return 0
    now = clock.now()
    wanted = await _subscriptions(session)
    seq = head.last_seq
    published: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for position, event_id, event_type, prison_id in rows:
        seq += 1
        published.append({"position": position, "feed_seq": seq})
        deliveries += [
            {
                "id": new_id(),
                "subscription_id": subscription_id,
                "event_id": event_id,
                "event_type": event_type,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription_id, types, prisons in wanted
            if event_type in types and delivers(prisons, prison_id)
        ]
    await session.execute(update(OutboxEvent), published)
    if deliveries:
        await session.execute(
            dialect_insert(session)(WebhookDelivery)
            .values(deliveries)
            .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
        )
    head.last_seq = seq
    session.add(head)
    await session.flush()
    return len(rows)


async def _subscriptions(
    session: AsyncSession,
) -> list[tuple[uuid.UUID, frozenset[str], frozenset[str] | None]]:
    """Each active subscription: its id, event types and prisons (None: every prison)."""
    rows = await session.execute(
        select(
            col(WebhookSubscription.id),
            col(WebhookSubscription.event_types),
            col(WebhookSubscription.all_prisons),
            col(WebhookSubscriptionPrison.prison_id),
        )
        .outerjoin(
            WebhookSubscriptionPrison,
            col(WebhookSubscriptionPrison.subscription_id) == col(WebhookSubscription.id),
        )
        .where(col(WebhookSubscription.active))
    )
    types: dict[uuid.UUID, frozenset[str]] = {}
    prisons: dict[uuid.UUID, set[str] | None] = {}
    for subscription_id, event_types, every, prison in rows:
        types[subscription_id] = frozenset(event_types)
        held = prisons.setdefault(subscription_id, None if every else set())
        if held is not None and prison is not None:
            held.add(prison)
    return [(sid, types[sid], None if held is None else frozenset(held)) for sid, held in prisons.items()]


async def _lock_head(session: AsyncSession, *, wait: bool) -> EventFeedHead | None:
    await session.execute(
        dialect_insert(session)(EventFeedHead)
        .values(id=1, last_seq=0)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return (
        await session.execute(
            select(EventFeedHead)
            .where(col(EventFeedHead.id) == 1)
            .with_for_update(skip_locked=not wait)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
