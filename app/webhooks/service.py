"""Webhook subscriptions: made, listed, removed; their deliveries: listed and sent again."""

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.auth.access import subscription_prisons, subscription_scope
from app.config import get_settings
from app.context import Principal, RequestContext
from app.db import fetch_page
from app.errors import InvalidStateError, NotFoundError
from app.models.webhooks import WebhookDelivery, WebhookSubscription, WebhookSubscriptionPrison
from app.webhooks.schemas import DeliveryPublic, DeliveryStatus, SubscriptionCreate, SubscriptionPublic
from app.webhooks.targets import check_target


async def subscribe(
    session: AsyncSession, ctx: RequestContext, body: SubscriptionCreate
) -> SubscriptionPublic:
    """Register a URL for some event types, for the prisons of the caller's caseload; refused for
    non-public targets unless allowed."""
    url = str(body.url)
    await check_target(url, allow_private=get_settings().webhook_allow_private_targets)
    prisons = subscription_prisons(ctx.principal)
    subscription = WebhookSubscription(
        url=url,
        event_types=sorted(set(body.event_types)),
        secret=body.secret,
        all_prisons=prisons is None,
        created_by_client_id=ctx.principal.client_id,
        created_at=clock.now(),
    )
    session.add(subscription)
    await session.flush()
    session.add_all(
        WebhookSubscriptionPrison(subscription_id=subscription.id, prison_id=prison)
        for prison in sorted(prisons or ())
    )
    view = present_subscription(subscription, sorted(prisons or ()))
    await record_global_change(
        session,
        ctx,
        action="webhook.subscribed",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        after={
            "url": url,
            "eventTypes": subscription.event_types,
            "allPrisons": view.all_prisons,
            "prisons": view.prisons,
        },
    )
    return view


async def get_subscription(
    session: AsyncSession, principal: Principal, subscription_id: uuid.UUID
) -> WebhookSubscription:
    """An active subscription the caller may manage (404 when unknown, removed, or of prisons
    outside their caseload: all three found by the same statement, finding nothing)."""
    subscription = (
        await session.execute(
            select(WebhookSubscription).where(
                col(WebhookSubscription.id) == subscription_id,
                col(WebhookSubscription.active).is_(True),
                subscription_scope(principal),
            )
        )
    ).scalar_one_or_none()
    if subscription is None:
        raise NotFoundError(f"no webhook subscription {subscription_id}")
    return subscription


async def list_subscriptions(
    session: AsyncSession, principal: Principal, *, offset: int, limit: int
) -> tuple[list[SubscriptionPublic], int]:
    """Active subscriptions the caller may manage, oldest first."""
    rows, total = await fetch_page(
        session,
        WebhookSubscription,
        where=[col(WebhookSubscription.active).is_(True), subscription_scope(principal)],
        order_by=[col(WebhookSubscription.created_at), col(WebhookSubscription.id)],
        offset=offset,
        limit=limit,
    )
    prisons = await _prisons_of(session, [s.id for s in rows])
    return [present_subscription(s, prisons.get(s.id, [])) for s in rows], total


async def view_subscription(session: AsyncSession, subscription: WebhookSubscription) -> SubscriptionPublic:
    """A subscription as the API shows it, with its prisons."""
    prisons = await _prisons_of(session, [subscription.id])
    return present_subscription(subscription, prisons.get(subscription.id, []))


async def _prisons_of(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    found: dict[uuid.UUID, list[str]] = {}
    if ids:
        rows = await session.execute(
            select(col(WebhookSubscriptionPrison.subscription_id), col(WebhookSubscriptionPrison.prison_id))
            .where(col(WebhookSubscriptionPrison.subscription_id).in_(ids))
            .order_by(col(WebhookSubscriptionPrison.prison_id))
        )
        for subscription_id, prison in rows:
            found.setdefault(subscription_id, []).append(prison)
    return found


def present_subscription(subscription: WebhookSubscription, prisons: list[str]) -> SubscriptionPublic:
    """A subscription as the API shows it (never its secret)."""
    return SubscriptionPublic.model_validate(
        {
            "id": subscription.id,
            "url": subscription.url,
            "event_types": subscription.event_types,
            "all_prisons": subscription.all_prisons,
            "prisons": [] if subscription.all_prisons else prisons,
            "active": subscription.active,
            "created_at": subscription.created_at,
            "deleted_at": subscription.deleted_at,
        }
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
