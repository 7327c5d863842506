"""A rep's hours: one definition, by which the summary report and the rep's own activity count.

The work that counts towards a rep's hours in a period `[start, end)`:
- every contact the rep recorded, at the time it happened, unless it was voided as recorded in
  error: its minutes;
- every task the rep completed, at the time it was completed, that wrote no contact: its minutes
  (none given: 0).
A visit task writes its contact, so the visit counts once, as the contact. Where the work
happened is the contact's case's prison, or the task's prison. When contacts can be
countersigned, this is the one place that narrows what counts.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, exists, func, literal_column, select, true, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.common.enums import TaskStatus
from app.models.cases import Case
from app.models.contacts import Contact
from app.models.reps import Rep
from app.models.tasks import Task


@dataclass(frozen=True, slots=True)
class RepTotal:
    """One rep's counted work in a period."""

    rep_id: uuid.UUID
    name: str
    minutes: int
    activities: int


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One piece of counted work: a contact or a task that wrote none."""

    at: datetime
    source: str
    kind: str
    minutes: int


def hours(minutes: int) -> float:
    """Minutes as hours, to two places: the figure every report shows."""
    return round(minutes / 60, 2)


def _within(column: Any, prisons: list[str] | None) -> ColumnElement[bool]:
    return true() if prisons is None else column.in_(prisons)


def counted_work(
    start: datetime,
    end: datetime,
    *,
    prisons: list[str] | None = None,
    rep_ids: list[uuid.UUID] | None = None,
) -> Subquery:
    """The work that counts towards reps' hours in `[start, end)`, one row each:
    `rep_id, source ("contact" or "task"), kind, at, minutes`."""
    contacts: Any = (
        select(
            col(Contact.rep_id).label("rep_id"),
            literal_column("'contact'").label("source"),
            col(Contact.kind).label("kind"),
            col(Contact.occurred_at).label("at"),
            col(Contact.duration_minutes).label("minutes"),
        )
        .join(Case, col(Case.id) == col(Contact.case_id))
        .where(
            col(Contact.rep_id).is_not(None),
            col(Contact.occurred_at) >= start,
            col(Contact.occurred_at) < end,
            col(Contact.voided_at).is_(None),
            _within(col(Case.prison_id), prisons),
        )
    )
    wrote_contact = exists().where(col(Contact.task_id) == col(Task.id))
    tasks: Any = select(
        col(Task.completed_by_rep_id).label("rep_id"),
        literal_column("'task'").label("source"),
        col(Task.kind).label("kind"),
        col(Task.completed_at).label("at"),
        func.coalesce(col(Task.duration_minutes), 0).label("minutes"),
    ).where(
        col(Task.completed_by_rep_id).is_not(None),
        col(Task.status) == TaskStatus.DONE.value,
        col(Task.completed_at) >= start,
        col(Task.completed_at) < end,
        _within(col(Task.prison_id), prisons),
        ~wrote_contact,
    )
    if rep_ids is not None:
        contacts = contacts.where(col(Contact.rep_id).in_(rep_ids))
        tasks = tasks.where(col(Task.completed_by_rep_id).in_(rep_ids))
    return union_all(contacts, tasks).subquery("counted_work")


async def rep_totals(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    prisons: list[str] | None = None,
    rep_ids: list[uuid.UUID] | None = None,
) -> list[RepTotal]:
    """Each rep with counted work in the period: minutes and pieces of work, by name."""
    work = counted_work(start, end, prisons=prisons, rep_ids=rep_ids)
    rows = await session.execute(
        select(
            work.c.rep_id,
            col(Rep.first_name),
            col(Rep.last_name),
            func.coalesce(func.sum(work.c.minutes), 0),
            func.count(),
        )
        .join(Rep, col(Rep.id) == work.c.rep_id)
        .group_by(work.c.rep_id, col(Rep.first_name), col(Rep.last_name))
        .order_by(col(Rep.last_name), col(Rep.first_name), work.c.rep_id)
    )
    return [
        RepTotal(rep_id=rep_id, name=f"{first} {last}", minutes=int(minutes), activities=int(n))
        for rep_id, first, last, minutes, n in rows
    ]


async def rep_items(
    session: AsyncSession, rep_id: uuid.UUID, start: datetime, end: datetime
) -> list[WorkItem]:
    """One rep's counted work in the period, oldest first."""
    work = counted_work(start, end, rep_ids=[rep_id])
    rows = await session.execute(
        select(work.c.at, work.c.source, work.c.kind, work.c.minutes).order_by(work.c.at, work.c.source)
    )
    return [
        WorkItem(at=at, source=str(source), kind=str(kind), minutes=int(minutes))
        for at, source, kind, minutes in rows
    ]
