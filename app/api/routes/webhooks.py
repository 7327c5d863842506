"""Webhook subscriptions (admin): where outbound events are pushed, and how that went."""

import uuid

from fastapi import APIRouter, Response

from app.api.deps import ContextDep, PagingDep, PrincipalDep, SessionDep, permission
from app.api.responses import errors
from app.auth.access import Permission
from app.common.schemas import Page
from app.webhooks import service
from app.webhooks.schemas import DeliveryPublic, DeliveryStatus, SubscriptionCreate, SubscriptionPublic

router = APIRouter(
    prefix="/webhook-subscriptions",
    tags=["webhooks"],
    dependencies=[permission(Permission.WEBHOOKS_MANAGE)],
)


@router.post("", status_code=201, response_model=SubscriptionPublic, responses=errors(422))
async def subscribe(
    body: SubscriptionCreate, session: SessionDep, ctx: ContextDep, response: Response
) -> SubscriptionPublic:
    """Push the given event types to a URL, signed with the secret (Standard Webhooks): the
    events of the prisons in the caller's caseload (of every prison for a caller of every
    prison)."""
    subscription = await service.subscribe(session, ctx, body)
    response.headers["Location"] = f"/webhook-subscriptions/{subscription.id}"
    return subscription


@router.get("", response_model=Page[SubscriptionPublic], responses=errors(422))
async def list_subscriptions(
    session: SessionDep, principal: PrincipalDep, paging: PagingDep
) -> Page[SubscriptionPublic]:
    """The active subscriptions whose prisons the caller's caseload covers."""
    rows, total = await service.list_subscriptions(
        session, principal, offset=paging.offset, limit=paging.size
    )
    return Page[SubscriptionPublic].of(rows, number=paging.page, size=paging.size, total=total)


@router.get("/{subscription_id}", response_model=SubscriptionPublic, responses=errors(404))
async def get_subscription(
    subscription_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> SubscriptionPublic:
    """One subscription (404 if the caller's caseload does not cover its prisons)."""
    subscription = await service.get_subscription(session, principal, subscription_id)
    return await service.view_subscription(session, subscription)


@router.delete("/{subscription_id}", status_code=204, responses=errors(404))
async def unsubscribe(subscription_id: uuid.UUID, session: SessionDep, ctx: ContextDep) -> Response:
    """Stop pushing to this subscription; deliveries still waiting are cancelled."""
    subscription = await service.get_subscription(session, ctx.principal, subscription_id)
    await service.unsubscribe(session, ctx, subscription)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryPublic],
    responses=errors(404, 422),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    paging: PagingDep,
    status: DeliveryStatus | None = None,
) -> Page[DeliveryPublic]:
    """The subscription's deliveries, newest first; `?status=dead` lists those given up on."""
    subscription = await service.get_subscription(session, principal, subscription_id)
    rows, total = await service.list_deliveries(
        session, subscription, status=status, offset=paging.offset, limit=paging.size
    )
    return Page[DeliveryPublic].of(
        [service.present_delivery(d) for d in rows], number=paging.page, size=paging.size, total=total
    )


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    responses=errors(404, 409),
)
async def redeliver(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, ctx: ContextDep
) -> DeliveryPublic:
    """Send a dead (or delivered) event again: queued for the timed work with fresh attempts."""
    subscription = await service.get_subscription(session, ctx.principal, subscription_id)
    return service.present_delivery(await service.redeliver(session, ctx, subscription, delivery_id))
