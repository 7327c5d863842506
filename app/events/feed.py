"""Reading the published outbox as a feed, in the order of its cursor.

Events get their cursor (`feed_seq`) when they are published (`app.flows.publishing`), one
publisher at a time, so a reader going by `after=<cursor>` never misses an event that commits late.
"""

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.models.events import OutboxEvent


async def read_feed(
    session: AsyncSession, *, scope: ColumnElement[bool], after: int, limit: int
) -> list[OutboxEvent]:
    """Published events after the cursor, in order, within the caller's scope."""
    rows = await session.execute(
        select(OutboxEvent)
        .where(col(OutboxEvent.feed_seq) > after, scope)
        .order_by(col(OutboxEvent.feed_seq))
        .limit(limit)
    )
    return list(rows.scalars())
