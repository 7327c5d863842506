"""The reps register, each rep's daily task list and their logged volunteer hours."""

import uuid
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app import clock
from app.audit.service import record_global_change
from app.auth.access import REP_SCOPE_BOUND, Permission, has, rep_scope, rep_scope_values
from app.common.dates import local_day_bounds as day_bounds
from app.common.dates import local_period, local_zone
from app.common.enums import CONTACT_WORDS, ContactKind, RepStatus, TaskKind
from app.common.sql_json import with_member
from app.config import get_settings
from app.context import Principal, RequestContext
from app.db import Conn, on_driver, read_row
from app.errors import ConflictError, NotFoundError, ValidationFailedError
from app.models.reps import Rep
from app.reps import hours
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


def local_today() -> date:
    """Today's date in the prisons' local time."""
    return clock.now().astimezone(local_zone()).date()


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


TASK_WORDS: dict[str, str] = {
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
    """The rep's counted work from `first` to `last` in local time, as `app.reps.hours` defines
    it (the summary report counts by the same definition)."""
    if last < first:
        raise ValidationFailedError("to is before from")
    if (last - first).days >= MAX_ACTIVITY_DAYS:
        raise ValidationFailedError(f"ask for at most {MAX_ACTIVITY_DAYS} days at a time")
    start, end = local_period(first, last)
    zone = local_zone()
    items = [
        ActivityItem(
            date=w.at.astimezone(zone).date(),
            activity=_activity_words(w),
            source="contact" if w.source == "contact" else "task",
            minutes=w.minutes,
        )
        for w in await hours.rep_items(session, rep.id, start, end)
    ]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        totals[item.activity][0] += 1
        totals[item.activity][1] += item.minutes
    minutes = sum(item.minutes for item in items)
    return RepActivity(
        rep_id=rep.id,
        rep_name=rep_name(rep),
        from_=first,
        to=last,
        total_minutes=minutes,
        total_hours=hours.hours(minutes),
        by_activity=[
            ActivityTotal(activity=name, count=count, minutes=mins)
            for name, (count, mins) in sorted(totals.items())
        ],
        items=items,
    )


def _activity_words(work: hours.WorkItem) -> str:
    words = CONTACT_WORDS if work.source == "contact" else TASK_WORDS
    return words.get(work.kind, work.kind.replace("_", " ").capitalize())
