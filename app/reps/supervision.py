"""Supervision of reps: practice codes ask for it at least every 12 weeks, a floor. Overdue is
shown and reported; it never stops a rep being given work, which would strand cases."""

import uuid
from collections.abc import Sequence
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, func, select

from app import clock
from app.audit.service import record_global_change
from app.context import RequestContext
from app.errors import ValidationFailedError
from app.models.reps import Rep, Supervision
from app.reps.schemas import SupervisionCreate, SupervisionRecord, Supervisions, SupervisionSummary
from app.reps.service import local_today

INTERVAL = timedelta(days=84)


async def record(
    session: AsyncSession, ctx: RequestContext, rep: Rep, body: SupervisionCreate
) -> Supervision:
    """Record a supervision session of `rep`, audited."""
    today = local_today()
    if body.on > today:
        raise ValidationFailedError("on: a supervision is recorded once it has happened")
    latest = body.on + INTERVAL
    next_due = body.next_due_on or latest
    if not body.on < next_due <= latest:
        raise ValidationFailedError(f"nextDueOn: after `on` and at most 84 days later (by {latest})")
    row = Supervision(
        rep_id=rep.id,
        on=body.on,
        supervisor=body.supervisor,
        supervisor_id=ctx.principal.client_id,
        notes=body.notes,
        next_due_on=next_due,
        recorded_at=clock.now(),
    )
    session.add(row)
    await record_global_change(
        session,
        ctx,
        action="rep.supervised",
        entity_type="rep",
        entity_id=rep.id,
        after={"on": body.on, "supervisor": body.supervisor, "nextDueOn": next_due},
    )
    return row


async def summaries(session: AsyncSession, reps: Sequence[Rep]) -> dict[uuid.UUID, SupervisionSummary]:
    """Where each rep's supervision stands, from their latest session, in one query."""
    ids = [r.id for r in reps]
    latest: dict[uuid.UUID, tuple[date, date]] = {}
    if ids:
        newest = (
            select(col(Supervision.rep_id), func.max(col(Supervision.on)).label("on"))
            .where(col(Supervision.rep_id).in_(ids))
            .group_by(col(Supervision.rep_id))
            .subquery()
        )
        rows = await session.execute(
            select(col(Supervision.rep_id), col(Supervision.on), func.max(col(Supervision.next_due_on)))
            .join(newest, (newest.c.rep_id == col(Supervision.rep_id)) & (newest.c.on == col(Supervision.on)))
            .group_by(col(Supervision.rep_id), col(Supervision.on))
        )
        latest = {rep_id: (on, due) for rep_id, on, due in rows}
    today = local_today()
    found = {}
    for rep in reps:
        on, due = latest.get(rep.id, (None, None))
        if due is None:
            due = (rep.trained_on or rep.created_at.date()) + INTERVAL
        found[rep.id] = SupervisionSummary(last_on=on, next_due_on=due, overdue=due < today)
    return found


async def of_rep(session: AsyncSession, rep: Rep) -> Supervisions:
    """Every supervision session of `rep`, oldest first, with where it stands."""
    rows = await session.execute(
        select(Supervision)
        .where(col(Supervision.rep_id) == rep.id)
        .order_by(col(Supervision.on), col(Supervision.recorded_at))
    )
    summary = (await summaries(session, [rep]))[rep.id]
    return Supervisions(
        last_on=summary.last_on,
        next_due_on=summary.next_due_on,
        overdue=summary.overdue,
        records=[SupervisionRecord.model_validate(r) for r in rows.scalars()],
    )
