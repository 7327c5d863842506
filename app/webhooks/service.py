"""Webhook subscriptions: made, listed, removed; their deliveries: listed and sent again."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.config import get_settings
from app.context import RequestContext
from app.db import fetch_page
from app.errors import InvalidStateError, NotFoundError
from app.webhooks.models import WebhookDelivery, WebhookSubscription
from app.webhooks.schemas import DeliveryPublic, DeliveryStatus, SubscriptionCreate
from app.webhooks.targets import check_target


async def subscribe(
    session: AsyncSession, ctx: RequestContext, body: SubscriptionCreate
) -> WebhookSubscription:
    """Register a URL for some event types; refused for non-public targets unless allowed."""
    url = str(body.url)
    await check_target(url, allow_private=get_settings().webhook_allow_private_targets)
    subscription = WebhookSubscription(
        url=url,
        event_types=sorted(set(body.event_types)),
        secret=body.secret,
        created_by_client_id=ctx.principal.client_id,
        created_at=clock.now(),
    )
    session.add(subscription)
    await session.flush()
    await record_global_change(
        session,
        ctx,
        action="webhook.subscribed",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        after={"url": url, "eventTypes": subscription.event_types},
    )
    return subscription


async def get_subscription(session: AsyncSession, subscription_id: uuid.UUID) -> WebhookSubscription:
    """An active subscription (404 when unknown or removed)."""
    subscription = await session.get(WebhookSubscription, subscription_id)
    if subscription is None or not subscription.active:
        raise NotFoundError(f"no webhook subscription {subscription_id}")
    return subscription


async def list_subscriptions(
    session: AsyncSession, *, offset: int, limit: int
) -> tuple[list[WebhookSubscription], int]:
    """Active subscriptions, oldest first."""
    return await fetch_page(
        session,
        WebhookSubscription,
        where=[col(WebhookSubscription.active).is_(True)],
        order_by=[col(WebhookSubscription.created_at), col(WebhookSubscription.id)],
        offset=offset,
        limit=limit,
    )


async def unsubscribe(session: AsyncSession, ctx: RequestContext, subscription: WebhookSubscription) -> None:
    """Stop sending to a subscription; what was still waiting is cancelled, the history kept."""
    subscription.active = False
    subscription.deleted_at = clock.now()
    session.add(subscription)
    await session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.subscription_id) == subscription.id,
            col(WebhookDelivery.status) == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.CANCELLED.value, claimed_until=None, claimed_by=None),
        execution_options={"synchronize_session": False},
    )
    await record_global_change(
        session,
        ctx,
        action="webhook.unsubscribed",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        before={"url": subscription.url, "eventTypes": subscription.event_types},
    )


async def list_deliveries(
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    status: DeliveryStatus | None,
    offset: int,
    limit: int,
) -> tuple[list[WebhookDelivery], int]:
    """A subscription's deliveries, newest first, optionally of one status (e.g. `dead`)."""
    conditions = [col(WebhookDelivery.subscription_id) == subscription.id]
    if status is not None:
        conditions.append(col(WebhookDelivery.status) == status.value)
    return await fetch_page(
        session,
        WebhookDelivery,
        where=conditions,
        order_by=[col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id)],
        offset=offset,
        limit=limit,
    )


async def redeliver(
    session: AsyncSession, ctx: RequestContext, subscription: WebhookSubscription, delivery_id: uuid.UUID
) -> WebhookDelivery:
    """Queue a dead (or already delivered) event for this subscription again, with fresh attempts."""
    delivery = (
        await session.execute(
            select(WebhookDelivery)
            .where(
                col(WebhookDelivery.id) == delivery_id,
                col(WebhookDelivery.subscription_id) == subscription.id,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise NotFoundError(f"no delivery {delivery_id} for subscription {subscription.id}")
    if delivery.status not in (DeliveryStatus.DEAD.value, DeliveryStatus.DELIVERED.value):
        raise InvalidStateError(
            f"the delivery is {delivery.status}; only dead or delivered ones are sent again"
        )
    before = {"status": delivery.status, "attempts": delivery.attempts}
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()
    delivery.claimed_until = None
    delivery.claimed_by = None
    session.add(delivery)
    await record_global_change(
        session,
        ctx,
        action="webhook.redelivery-requested",
        entity_type="webhook_delivery",
        entity_id=delivery.id,
        before=before,
        after={"status": delivery.status, "eventId": delivery.event_id, "subscriptionId": subscription.id},
    )
    return delivery


def present_delivery(delivery: WebhookDelivery) -> DeliveryPublic:
    """A delivery as the API shows it (`nextAttemptAt` only while it is waiting)."""
    view = DeliveryPublic.model_validate(delivery)
    if delivery.status != DeliveryStatus.PENDING.value:
        view.next_attempt_at = None
    return view
