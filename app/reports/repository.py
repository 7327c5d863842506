"""The report's queries. Counts and sums are SQL aggregates on both backends; percentiles are
`percentile_cont` on PostgreSQL and, on SQLite (which has none), the same interpolation over
the sorted values fetched from the database."""

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, and_, cast, extract, func, literal, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from app.common.enums import ConcernStatus, TaskKind, TaskStatus
from app.models.cases import Case, Party
from app.models.feedback import Feedback
from app.models.safeguarding import SafeguardingConcern
from app.models.tasks import Task

PercentileMethod = Literal["sql", "python"]


def dialect_of(session: AsyncSession) -> str:
    """The database's dialect name."""
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[float]:
    """Whole seconds from `start` to `end`, as a float, on either backend."""
    if dialect == "postgresql":
        return cast(func.round(extract("epoch", end - start)), Float)
    return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400.0), Float)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont over already sorted values: linear interpolation."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)


async def percentiles(
    session: AsyncSession,
    value: ColumnElement[float],
    conditions: list[ColumnElement[bool]],
    fractions: Sequence[float],
    *,
    method: PercentileMethod | None = None,
) -> tuple[int, list[float | None]]:
    """How many rows match, and the given percentiles of `value` over them."""
    method = method or ("sql" if dialect_of(session) == "postgresql" else "python")
    if method == "sql":
        row = (
            await session.execute(
                select(
                    func.count(value),
                    *(func.percentile_cont(f).within_group(value.asc()) for f in fractions),
                ).where(*conditions, value.is_not(None))
            )
        ).one()
        return int(row[0]), [float(v) if v is not None else None for v in row[1:]]
    values = [
        float(v)
        for v in (
            await session.execute(select(value).where(*conditions, value.is_not(None)).order_by(value.asc()))
        ).scalars()
    ]
    return len(values), [percentile_cont(values, f) for f in fractions]


def in_period(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:
    """`start <= column < end`."""
    return and_(column >= start, column < end)


def in_prisons(column: Any, prisons: list[str] | None) -> ColumnElement[bool]:
    """The prison filter (None: every prison)."""
    return true() if prisons is None else column.in_(prisons)


async def counts_by(
    session: AsyncSession, key: Any, prisons: list[str] | None, start: datetime, end: datetime
) -> dict[str | None, int]:
    """Cases referred in the period, grouped by `key`."""
    rows = await session.execute(
        select(key, func.count())
        .where(in_prisons(col(Case.prison_id), prisons), in_period(col(Case.created_at), start, end))
        .group_by(key)
    )
    return {k: int(n) for k, n in rows}


DECLINED = "declined"


def outcome_key() -> ColumnElement[str | None]:
    """A case's outcome as the report counts it: a declined case is `declined` (its reason is
    counted apart), whatever outcome the decline recorded."""
    return sql_case((col(Case.decline_reason).is_not(None), literal(DECLINED)), else_=col(Case.outcome))


def conclusion_conditions(
    prisons: list[str] | None, start: datetime, end: datetime
) -> list[ColumnElement[bool]]:
    """Cases whose intervention ended (concluded or withdrawn) in the period."""
    return [in_prisons(col(Case.prison_id), prisons), in_period(col(Case.concluded_at), start, end)]


async def wellbeing(
    session: AsyncSession, prisons: list[str] | None, start: datetime, end: datetime, now: datetime
) -> dict[str, int]:
    """Wellbeing checks due in [start, end), whether that time has come or not: `due` (cancelled
    ones aside), `completed`, `onTime`, `overdue` (open after their due time), `notYetDue` and,
    apart, `cancelled`."""
    status = col(Task.status)
    done = status == TaskStatus.DONE.value
    is_open = status == TaskStatus.OPEN.value
    cancelled = status == TaskStatus.CANCELLED.value
    on_time = and_(done, col(Task.completed_at).is_not(None), col(Task.completed_at) <= col(Task.due_at))

    def tally(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(sql_case((condition, 1), else_=0)), 0)

    row = (
        await session.execute(
            select(
                tally(~cancelled),
                tally(done),
                tally(on_time),
                tally(and_(is_open, col(Task.due_at) < now)),
                tally(and_(is_open, col(Task.due_at) >= now)),
                tally(cancelled),
            ).where(
                in_prisons(col(Task.prison_id), prisons),
                col(Task.kind) == TaskKind.WELLBEING_CHECK.value,
                in_period(col(Task.due_at), start, end),
            )
        )
    ).one()
    names = ("due", "completed", "onTime", "overdue", "notYetDue", "cancelled")
    return {name: int(value) for name, value in zip(names, row, strict=True)}


async def concern_counts(
    session: AsyncSession, prisons: list[str] | None, start: datetime, end: datetime
) -> tuple[int, int, int]:
    """Concerns raised in the period: all, acknowledged, still open."""
    is_open = col(SafeguardingConcern.status) == ConcernStatus.OPEN.value
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(sql_case((is_open, 1), else_=0)), 0)).where(
                in_prisons(col(SafeguardingConcern.prison_id), prisons),
                in_period(col(SafeguardingConcern.raised_at), start, end),
            )
        )
    ).one()
    raised, still_open = int(row[0]), int(row[1])
    return raised, raised - still_open, still_open


async def open_concerns_now(session: AsyncSession, prisons: list[str] | None) -> int:
    """Concerns open at this moment, whenever raised."""
    return int(
        (
            await session.execute(
                select(func.count()).where(
                    in_prisons(col(SafeguardingConcern.prison_id), prisons),
                    col(SafeguardingConcern.status) == ConcernStatus.OPEN.value,
                )
            )
        ).scalar_one()
    )


async def reoffending(
    session: AsyncSession, prisons: list[str] | None, start: datetime, end: datetime, window_days: int
) -> tuple[int, int, int, int, int]:
    """Per party of a case concluded in the period, the other cases naming the same prisoner
    referred within `window_days` before the case's referral and after its conclusion:
    (parties, incidents before, incidents after, parties with any before, parties with any after)."""
    dialect = dialect_of(session)
    window = window_days * 86400.0
    concluded = aliased(Case, name="concluded")
    party = aliased(Party, name="subject")
    other = aliased(Case, name="other")
    other_party = aliased(Party, name="other_party")

    def incidents(since: ColumnElement[float]) -> Any:
        return (
            select(func.count())
            .select_from(other_party)
            .join(other, col(other.id) == col(other_party.case_id))
            .where(
                col(other_party.prisoner_number) == col(party.prisoner_number),
                col(other.id) != col(concluded.id),
                since > 0,
                since <= window,
            )
            .correlate(party, concluded)
            .scalar_subquery()
        )

    before = incidents(seconds_between(dialect, col(other.created_at), col(concluded.created_at)))
    after = incidents(seconds_between(dialect, col(concluded.concluded_at), col(other.created_at)))
    per_party = (
        select(before.label("before"), after.label("after"))
        .select_from(party)
        .join(concluded, col(concluded.id) == col(party.case_id))
        .where(
            in_prisons(col(concluded.prison_id), prisons),
            in_period(col(concluded.concluded_at), start, end),
        )
        .subquery()
    )
    zero = literal(0)
    row = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(per_party.c.before), zero),
                func.coalesce(func.sum(per_party.c.after), zero),
                func.coalesce(func.sum(sql_case((per_party.c.before > 0, 1), else_=0)), zero),
                func.coalesce(func.sum(sql_case((per_party.c.after > 0, 1), else_=0)), zero),
            )
        )
    ).one()
    parties, before_n, after_n, with_before, with_after = (int(v) for v in row)
    return parties, before_n, after_n, with_before, with_after


async def feedback_answers(
    session: AsyncSession, prisons: list[str] | None, start: datetime, end: datetime
) -> list[tuple[datetime, str, str, int, int, int]]:
    """Every answer given in [start, end) on cases of the prisons: (when, stage, the party's role
    then, feltHeard, feltSafe, wouldRecommend). Never the comment."""
    rows = await session.execute(
        select(
            col(Feedback.recorded_at),
            col(Feedback.stage),
            col(Feedback.party_role),
            col(Feedback.felt_heard),
            col(Feedback.felt_safe),
            col(Feedback.would_recommend),
        )
        .join(Case, col(Case.id) == col(Feedback.case_id))
        .where(in_prisons(col(Case.prison_id), prisons), in_period(col(Feedback.recorded_at), start, end))
    )
    return [(at, stage, role, int(h), int(s), int(r)) for at, stage, role, h, s, r in rows]


async def count_in_period(
    session: AsyncSession, column: Any, prisons: list[str] | None, start: datetime, end: datetime
) -> int:
    """Cases of the prisons whose `column` (a time) falls in [start, end)."""
    return int(
        (
            await session.execute(
                select(func.count()).where(
                    in_prisons(col(Case.prison_id), prisons), in_period(column, start, end)
                )
            )
        ).scalar_one()
    )
