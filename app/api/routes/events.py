"""Events: the outbound feed, and domain events coming in from prison systems."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import KNOWN_QUERY, ContextDep, PagingDep, PrincipalDep, SessionDep, database, permission
from app.api.responses import errors
from app.auth.access import Permission, event_scope, require
from app.common.schemas import Cursor, Page
from app.events import feed
from app.events.schemas import DomainEvent, FeedItem, FeedPage, InboundEventPublic, InboundStatus
from app.flows import inbound_events, publishing
from app.models.events import InboundEvent, OutboxEvent

router = APIRouter(prefix="/events", tags=["events"])

FEED_LIMIT_MAX = 500


def _item(event: OutboxEvent) -> FeedItem:
    assert event.feed_seq is not None  # noqa: S101 - only published events are read
    return FeedItem.model_validate({**event.payload, "cursor": event.feed_seq})


def _public(record: InboundEvent) -> InboundEventPublic:
    return InboundEventPublic.model_validate(record)


@router.get(
    "",
    response_model=FeedPage,
    response_model_exclude_none=True,
    responses=errors(422),
    dependencies=[permission(Permission.EVENTS_READ), KNOWN_QUERY],
)
async def events_feed(
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[Cursor, Query(description="The cursor of the last event already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=FEED_LIMIT_MAX)] = 100,
) -> FeedPage:
    """Outbound events after `after`, in order, for the prisons in the caller's caseload."""
    await publishing.publish(session, wait=False)
    events = await feed.read_feed(session, scope=event_scope(principal), after=after, limit=limit)
    items = [_item(e) for e in events]
    return FeedPage(content=items, next_cursor=items[-1].cursor if items else after)


@router.post(
    "/inbound",
    status_code=202,
    response_model=InboundEventPublic,
    responses={
        200: {"model": InboundEventPublic, "description": "Received before: what became of it"},
        **errors(422),
    },
)
async def receive_event(
    body: DomainEvent, request: Request, ctx: ContextDep, response: Response
) -> InboundEventPublic:
    """Receive a prison domain event; its `status` says what became of it.

    202 for a new event, whatever the outcome: `processed`, `ignored` (a type this service does not
    act on), `failed` (the incident system could not be reached: recorded, retried by the timed work
    with back-off, replayable) or `rejected` (the event cannot be acted on, with the reason). 200 for an event
    the same caller sent before (same `eventId`, or same body without one), answered with what became
    of it; another sender's event of the same `eventId` is another event.
    """
    require(ctx.principal, Permission.EVENTS_INBOUND)
    record, new = await inbound_events.receive(database(request), ctx, body)
    if not new:
        response.status_code = 200
    return _public(record)


@router.get(
    "/inbound",
    response_model=Page[InboundEventPublic],
    responses=errors(422),
    dependencies=[permission(Permission.INBOUND_MANAGE)],
)
async def list_inbound(
    session: SessionDep, principal: PrincipalDep, paging: PagingDep, status: InboundStatus | None = None
) -> Page[InboundEventPublic]:
    """Received events about the prisons of the caller's caseload, newest first
    (`?status=failed` for those waiting on a retry); events about no known prison are listed only
    to callers of every prison."""
    records, total = await inbound_events.list_inbound(
        session, principal, status=status, offset=paging.offset, limit=paging.size
    )
    return Page[InboundEventPublic].of(
        [_public(r) for r in records], number=paging.page, size=paging.size, total=total
    )


@router.get(
    "/inbound/{inbound_id}",
    response_model=InboundEventPublic,
    responses=errors(404),
    dependencies=[permission(Permission.INBOUND_MANAGE)],
)
async def get_inbound(
    inbound_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> InboundEventPublic:
    """One received event (404 outside the caller's caseload)."""
    return _public(await inbound_events.find(session, inbound_id, principal))


@router.post(
    "/inbound/{inbound_id}/replay",
    response_model=InboundEventPublic,
    responses=errors(404, 409),
)
async def replay_inbound(inbound_id: uuid.UUID, request: Request, ctx: ContextDep) -> InboundEventPublic:
    """Act again, now, on an event that failed or was rejected (admin; 404 outside the caller's
    caseload)."""
    require(ctx.principal, Permission.INBOUND_MANAGE)
    return _public(await inbound_events.replay(database(request), ctx, inbound_id))
