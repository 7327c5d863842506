"""The reps register, each rep's daily task list and their logged volunteer hours."""

import uuid
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.auth.access import REP_SCOPE_BOUND, Permission, has, rep_scope, rep_scope_values
from app.common.enums import CONTACT_WORDS, ContactKind, RepStatus, TaskKind
from app.common.sql_json import with_member
from app.config import get_settings
from app.context import Principal, RequestContext
from app.db import Conn, on_driver, read_row
from app.errors import ConflictError, NotFoundError, ValidationFailedError
from app.models.contacts import Contact
from app.models.reps import Rep
from app.models.tasks import Task
from app.reps.schemas import (
    ActivityItem,
    ActivityTotal,
    DailyList,
    RepActivity,
    RepCreate,
    RepPatch,
)
from app.tasks import service as tasks


def rep_snapshot(rep: Rep) -> dict[str, object]:
    """A rep as the audit trail records it."""
    return {
        "prisonerNumber": rep.prisoner_number,
        "firstName": rep.first_name,
        "lastName": rep.last_name,
        "prisonId": rep.prison_id,
        "location": rep.location,
        "status": rep.status,
        "trainedOn": rep.trained_on,
        "maxActiveCases": rep.max_active_cases,
    }


async def create_rep(session: AsyncSession, ctx: RequestContext, body: RepCreate) -> Rep:
    """Register a rep; one current record per prisoner."""
    clash = await session.execute(
        select(col(Rep.id)).where(
            col(Rep.prisoner_number) == body.prisoner_number,
            col(Rep.status) != RepStatus.LEFT.value,
        )
    )
    if clash.first() is not None:
        raise ConflictError(f"{body.prisoner_number} is already a registered rep")
    now = clock.now()
    rep = Rep(**body.model_dump(), created_at=now, updated_at=now)
    rep.status = body.status.value
    session.add(rep)
    await session.flush()
    await record_global_change(
        session,
        ctx,
        action="rep.registered",
        entity_type="rep",
        entity_id=rep.id,
        after=rep_snapshot(rep),
    )
    return rep


async def get_rep(session: AsyncSession, principal: Principal, rep_id: uuid.UUID) -> Rep:
    """A rep within the caller's caseload (a rep principal sees only themself). One outside it is
    looked for as one that does not exist is: the caseload is in the statement's `WHERE`, which
    finds nothing, and the refusal is the same."""
    _may_read_reps(principal, rep_id)
    found = await session.execute(select(Rep).where(col(Rep.id) == rep_id, rep_scope(principal)))
    return _found(rep_id, found.scalar_one_or_none())


def _may_read_reps(principal: Principal, rep_id: uuid.UUID) -> None:
    if not has(principal, Permission.REP_READ):
        raise NotFoundError(f"no rep {rep_id}")


def _found(rep_id: uuid.UUID, rep: Rep | None) -> Rep:
    if rep is None:
        raise NotFoundError(f"no rep {rep_id}")
    return rep


async def patch_rep(session: AsyncSession, ctx: RequestContext, rep: Rep, body: RepPatch) -> Rep:
    """Change a rep's status, prison, location, limit or training date."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ValidationFailedError("nothing to change: give at least one field")
    before = rep_snapshot(rep)
    for name, value in changes.items():
        setattr(rep, name, value.value if isinstance(value, RepStatus) else value)
    rep.updated_at = clock.now()
    session.add(rep)
    after = rep_snapshot(rep)
    await record_global_change(
        session,
        ctx,
        action="rep.updated",
        entity_type="rep",
        entity_id=rep.id,
        before={k: v for k, v in before.items() if after[k] != v},
        after={k: v for k, v in after.items() if before[k] != v},
    )
    return rep


async def list_reps(
    session: AsyncSession,
    principal: Principal,
    *,
    prison_id: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> tuple[list[Rep], int]:
    """Reps in the caller's caseload, by name."""
    conditions: list[ColumnElement[bool]] = [rep_scope(principal)]
    if prison_id:
        conditions.append(col(Rep.prison_id) == prison_id)
    if status:
        conditions.append(col(Rep.status) == status)
    total = (await session.execute(select(func.count()).select_from(Rep).where(*conditions))).scalar_one()
    rows = await session.execute(
        select(Rep)
        .where(*conditions)
        .order_by(col(Rep.last_name), col(Rep.first_name), col(Rep.id))
        .offset(offset)
        .limit(limit)
    )
    return list(rows.scalars()), total


# A printed sheet and a screen both have room for a day's work; more than this is a backlog
# for the practitioner to sort out, not a list to hand a rep.
DAILY_LIST_LIMIT = 200


def local_zone() -> ZoneInfo:
    """The prisons' local time zone."""
    return ZoneInfo(get_settings().local_timezone)


def local_today() -> date:
    """Today's date in the prisons' local time."""
    return clock.now().astimezone(local_zone()).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of `day` and of the next day, in local time (23 or 25 hours across DST)."""
    zone = local_zone()
    return (
        datetime.combine(day, time.min, tzinfo=zone),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )


def rep_name(rep: Rep) -> str:
    """A rep's name as lists show it."""
    return f"{rep.first_name} {rep.last_name}"


async def daily_list(session: AsyncSession, rep: Rep, day: date) -> DailyList:
    """The rep's list for `day`: every open task due that day or before, most urgent first.

    A task is overdue when its time has passed: now for today's list, the start of the day for a
    later day's list, the end of the day for an earlier day's.
    """
    now, end, reference = _day_times(day)
    rows = await tasks.rep_day_rows(session, rep.id, day_end=end, reference=reference, limit=DAILY_LIST_LIMIT)
    return _day_list(rep, day, rows, now=now, reference=reference)


# The rep, within the caller's scope, and the JSON of the rep's tasks for a day in one statement,
# for a PostgreSQL driver connection. A rep out of scope is not found, so its tasks are not read
# (the tasks' subquery is evaluated only for a row found).
_REP_COLUMNS = tuple(c.name for c in Rep.__table__.columns)  # type: ignore[attr-defined]
_REP_DAY_ON_DRIVER = on_driver(
    select(*(col(getattr(Rep, name)) for name in _REP_COLUMNS), tasks.DAY_TASKS_JSON).where(
        col(Rep.id) == bindparam("rep_id"), REP_SCOPE_BOUND
    )
)


async def day_list_json(conn: Conn, principal: Principal, rep_id: uuid.UUID, day: date) -> str:
    """`get_rep`'s rep (with its refusals) and its `daily_list` for `day`, as JSON text, on either
    handle. On PostgreSQL's driver in one round trip, the tasks written as JSON by PostgreSQL
    (tests/reps/test_day_list_json.py holds the two forms to the same text)."""
    if isinstance(conn, AsyncSession):
        rep = await get_rep(conn, principal, rep_id)
        return (await daily_list(conn, rep, day)).model_dump_json(by_alias=True)
    driver = conn
    _may_read_reps(principal, rep_id)
    now, end, reference = _day_times(day)
    values = tasks.day_rows_values(rep_id, day_end=end, reference=reference, limit=DAILY_LIST_LIMIT)
    sql, args = _REP_DAY_ON_DRIVER
    row = await driver.fetchrow(sql, *args(values | rep_scope_values(principal)))
    if row is None:
        raise NotFoundError(f"no rep {rep_id}")
    rep = read_row(Rep, dict(zip(_REP_COLUMNS, row[:-1], strict=True)))
    frame = _day_list(rep, day, [], now=now, reference=reference).model_dump_json(by_alias=True)
    return with_member(frame, "tasks", row[-1])


def _day_times(day: date) -> tuple[datetime, datetime, datetime]:
    """Now, the end of `day`, and the time against which its tasks are overdue."""
    start, end = day_bounds(day)
    now = clock.now()
    return now, end, min(max(now, start), end)


def _day_list(rep: Rep, day: date, rows: list[Any], *, now: datetime, reference: datetime) -> DailyList:
    # Validated in one call from plain values: quicker, for a list of any length, than building
    # each task's model in Python.
    items = [
        {
            "id": r.id,
            "case_id": r.case_id,
            "case_reference": r.reference,
            "kind": r.kind,
            "due_at": r.due_at,
            "overdue": r.due_at < reference,
            "what": r.instructions,
            "whom": tasks.party_name(r) if r.first_name is not None else None,
            "where": r.location,
        }
        for r in rows
    ]
    return DailyList.model_validate(
        {
            "rep_id": rep.id,
            "rep_name": rep_name(rep),
            "prison_id": rep.prison_id,
            "date": day,
            "timezone": get_settings().local_timezone,
            "generated_at": now,
            "tasks": items,
        }
    )


TASK_WORDS = {
    TaskKind.ASSESSMENT_VISIT: CONTACT_WORDS[ContactKind.ASSESSMENT],
    TaskKind.SHUTTLE_VISIT: CONTACT_WORDS[ContactKind.SHUTTLE],
    TaskKind.LETTER_DELIVERY: "Letter delivery",
    TaskKind.WELLBEING_CHECK: CONTACT_WORDS[ContactKind.WELLBEING],
    TaskKind.CONFERENCE_PREPARATION: "Conference support",
    TaskKind.SAFEGUARDING_CHECK: "Safeguarding check",
    TaskKind.PRACTITIONER_REVIEW: "Case review",
}
MAX_ACTIVITY_DAYS = 366


async def activity(session: AsyncSession, rep: Rep, *, first: date, last: date) -> RepActivity:
    """Hours and activities from the rep's contacts and the tasks they completed, `first` to `last`.

    A task that left a contact behind counts once, as the contact.
    """
    if last < first:
        raise ValidationFailedError("to is before from")
    if (last - first).days >= MAX_ACTIVITY_DAYS:
        raise ValidationFailedError(f"ask for at most {MAX_ACTIVITY_DAYS} days at a time")
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    zone = local_zone()
    items: list[tuple[datetime, ActivityItem]] = []
    contacts = await session.execute(
        select(Contact).where(
            col(Contact.rep_id) == rep.id,
            col(Contact.occurred_at) >= start,
            col(Contact.occurred_at) < end,
            col(Contact.voided_at).is_(None),
        )
    )
    for c in contacts.scalars():
        items.append(
            (
                c.occurred_at,
                ActivityItem(
                    date=c.occurred_at.astimezone(zone).date(),
                    activity=CONTACT_WORDS[c.kind],
                    source="contact",
                    minutes=c.duration_minutes,
                ),
            )
        )
    counted = select(col(Contact.task_id)).where(col(Contact.task_id).is_not(None))
    done = await session.execute(
        select(Task).where(
            col(Task.completed_by_rep_id) == rep.id,
            col(Task.completed_at) >= start,
            col(Task.completed_at) < end,
            col(Task.id).not_in(counted),
        )
    )
    for t in done.scalars():
        assert t.completed_at is not None  # noqa: S101 - selected on it
        items.append(
            (
                t.completed_at,
                ActivityItem(
                    date=t.completed_at.astimezone(zone).date(),
                    activity=TASK_WORDS[TaskKind(t.kind)],
                    source="task",
                    minutes=t.duration_minutes or 0,
                ),
            )
        )
    items.sort(key=lambda pair: pair[0])
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for _, item in items:
        totals[item.activity][0] += 1
        totals[item.activity][1] += item.minutes
    minutes = sum(item.minutes for _, item in items)
    return RepActivity(
        rep_id=rep.id,
        rep_name=rep_name(rep),
        from_=first,
        to=last,
        total_minutes=minutes,
        total_hours=round(minutes / 60, 2),
        by_activity=[
            ActivityTotal(activity=name, count=count, minutes=mins)
            for name, (count, mins) in sorted(totals.items())
        ],
        items=[item for _, item in items],
    )
